#!/bin/sh
# Runs the build stage of the Dockerfile as plain shell steps, for machines
# without a container engine: the same commands, with /src the checkout
# and /out a scratch directory. It checks that they succeed and that the
# binary reports the version it was given.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
VERSION=${VERSION:-$(git describe --tags --always 2>/dev/null || echo dev)}
export VERSION
# The RUN lines between "AS build" and the next FROM, in order.
sed -n '/^FROM .* AS build$/,/^FROM /p' Dockerfile | sed -n 's/^RUN //p' | while IFS= read -r step; do
	step=$(printf '%s' "$step" | sed "s#/out/#$out/#g")
	echo "+ $step"
	sh -c "$step"
done
got=$("$out/orchestrate" version)
case "$got" in
*"$VERSION"*) echo "build stage ok: $got" ;;
*) echo "the binary says $got, want version $VERSION" >&2; exit 1 ;;
esac
