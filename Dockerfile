# syntax=docker/dockerfile:1
# Images of orchestrate. Targets:
#   worker     every role but the collector: a static binary on distroless, non-root
#   collector  the collector role: it runs the generated projects' go test,
#              so it carries the Go toolchain and the module cache the binary
#              was built with (generated projects build offline from it)
# Build: docker build --target worker --build-arg VERSION=$(git describe --tags --always) -t orchestrate .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/orchestrate-dev/orchestrate/internal/cli.Version=${VERSION}" -o /out/orchestrate ./cmd/orchestrate
RUN /out/orchestrate version

FROM gcr.io/distroless/static-debian12:nonroot AS worker
COPY --from=build /out/orchestrate /usr/local/bin/orchestrate
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/orchestrate"]
CMD ["worker", "--http", ":8080"]

FROM golang:${GO_VERSION}-bookworm AS collector
RUN useradd --uid 65532 --create-home --shell /usr/sbin/nologin orchestrate
COPY --from=build /out/orchestrate /usr/local/bin/orchestrate
COPY --from=build --chown=65532:65532 /go/pkg/mod /home/orchestrate/go/pkg/mod
USER 65532:65532
ENV GOMODCACHE=/home/orchestrate/go/pkg/mod GOPROXY=off GOTOOLCHAIN=local
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/orchestrate"]
CMD ["worker", "--roles", "collector", "--max-agents", "1", "--http", ":8080"]
