#!/usr/bin/env bash
# Runs the whole test suite. The tests start their own nats-server (in the
# test process) and redis-server (a child process) on free ports; this
# script installs redis-server when it is missing and it can.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 && [[ -z "${ORCHESTRATE_TEST_REDIS_URL:-}" ]]; then
  echo "redis-server not found; installing Debian's redis-server" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
  else
    echo "cannot install redis-server here: install it with your package manager, or set ORCHESTRATE_TEST_REDIS_URL" >&2
    exit 1
  fi
fi

exec go test -count=1 -timeout 20m "$@" ./...
