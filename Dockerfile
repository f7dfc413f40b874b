# Multi-stage build: a static binary on distroless, running as non-root.
#   docker build -t probe-exporter .
# stamps the version from the repository's git (hack/build.sh, as `make
# build` does); --build-arg VERSION=... REVISION=... override it. Multi-arch:
#   docker buildx build --platform linux/amd64,linux/arm64 -t probe-exporter .
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION
ARG REVISION
ARG TARGETOS=linux
ARG TARGETARCH
# The checkout may belong to another user than the build's.
RUN git config --global --add safe.directory /src && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH BUILD_USER=docker VERSION=$VERSION REVISION=$REVISION \
    hack/build.sh /out/probe-exporter

# distroless/static has no shell: exec probes that need /bin/sh want a
# different base image (see README, "exec probes").
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION
ARG REVISION
LABEL org.opencontainers.image.title="probe-exporter" \
      org.opencontainers.image.description="Kubernetes probes, with the kubelet's semantics, as Prometheus metrics" \
      org.opencontainers.image.source="https://github.com/probe-exporter/probe-exporter" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
COPY --from=build /out/probe-exporter /bin/probe-exporter
USER 65532:65532
EXPOSE 9878
ENTRYPOINT ["/bin/probe-exporter"]
