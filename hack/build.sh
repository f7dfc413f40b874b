#!/usr/bin/env sh
# Builds the static probe-exporter binary with its version stamped, for
# `make build` and the Dockerfile alike: VERSION, REVISION and BRANCH from
# the environment if set, else from git (git describe, as releases are
# tagged), else dev/unknown. Output: $1 (default bin/probe-exporter).
set -eu
out=${1:-bin/probe-exporter}
git_() { git "$@" 2>/dev/null || true; }
VERSION=${VERSION:-$(git_ describe --tags --always --dirty)}
REVISION=${REVISION:-$(git_ rev-parse HEAD)}
BRANCH=${BRANCH:-$(git_ rev-parse --abbrev-ref HEAD)}
pkg=github.com/prometheus/common/version
CGO_ENABLED=0 exec ${GO:-go} build -trimpath -o "$out" -ldflags "-s -w \
  -X $pkg.Version=${VERSION:-dev} \
  -X $pkg.Revision=${REVISION:-unknown} \
  -X $pkg.Branch=${BRANCH:-unknown} \
  -X $pkg.BuildUser=${BUILD_USER:-${USER:-unknown}} \
  -X $pkg.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" ./cmd/probe-exporter
