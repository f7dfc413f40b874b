# Multi-stage build: a static binary on distroless, running as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg REVISION=$(git rev-parse HEAD) -t probe-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=docker \
        -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/probe-exporter ./cmd/probe-exporter

# distroless/static has no shell: exec probes that need /bin/sh want a
# different base image (see README, "exec probes").
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/probe-exporter /bin/probe-exporter
USER 65532:65532
EXPOSE 9878
ENTRYPOINT ["/bin/probe-exporter"]
