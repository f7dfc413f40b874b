#!/usr/bin/env bash
# Builds (once) and caches the real control-plane binaries the Kubernetes
# discovery tests run: kube-apiserver and CoreDNS (with its kubernetes
# plugin) from the Go module proxy, etcd from Debian's etcd-server package. Prints shell assignments for their paths:
#   eval "$(hack/test-binaries.sh)"
# Cache: ${PROBE_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/probe-exporter}
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
STAGING_VERSION=v0${K8S_VERSION#v1}   # v1.36.3 -> v0.36.3
CACHE=${PROBE_EXPORTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/probe-exporter}
BIN=$CACHE/bin
mkdir -p "$BIN"
log() { echo "test-binaries: $*" >&2; }

apiserver=$BIN/kube-apiserver-$K8S_VERSION
if [ ! -x "$apiserver" ]; then
  log "building kube-apiserver $K8S_VERSION (once; about 10 minutes cold on 2 cores)"
  work=$CACHE/build/kube-apiserver-$K8S_VERSION
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  # k8s.io/kubernetes can't be `go install`ed: its go.mod points every
  # k8s.io staging module at v0.0.0 with replace directives. A throwaway
  # module requires it and replaces each staging module with its release.
  go mod init probe-exporter.test/kube-apiserver >/dev/null 2>&1
  modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$modfile" ] || { log "cannot download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  {
    grep -E '^godebug ' "$modfile" || true
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -oE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0( |$)' "$modfile" | awk -v v="$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } >> go.mod
  cat > main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
  go mod tidy >&2
  CGO_ENABLED=0 go build -trimpath -o "$apiserver.tmp" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)" . >&2
  mv "$apiserver.tmp" "$apiserver"
  cd / && rm -rf "$work"
  log "kube-apiserver cached at $apiserver"
fi

# The plugins the end-to-end test's Corefile uses, in the order CoreDNS
# chains them (plugin.cfg's order); the cached binary is named after them.
COREDNS_PLUGINS="bind ready errors log kubernetes"
coredns=$BIN/coredns-$COREDNS_VERSION-$(echo "$COREDNS_PLUGINS" | cksum | cut -d' ' -f1)
if [ ! -x "$coredns" ]; then
  log "building CoreDNS $COREDNS_VERSION (once; about 2 minutes cold on 2 cores)"
  work=$CACHE/build/coredns-$COREDNS_VERSION
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  go mod init probe-exporter.test/coredns >/dev/null 2>&1
  {
    echo 'package main'
    echo 'import ('
    echo '	"github.com/coredns/coredns/core/dnsserver"'
    echo '	"github.com/coredns/coredns/coremain"'
    for p in $COREDNS_PLUGINS; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ')'
    printf 'func init() { dnsserver.Directives = []string{'
    for p in $COREDNS_PLUGINS; do printf '"%s", ' "$p"; done
    echo '} }'
    echo 'func main() { coremain.Run() }'
  } > main.go
  go get "github.com/coredns/coredns@$COREDNS_VERSION" >&2
  go mod tidy >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$coredns.tmp" . >&2
  mv "$coredns.tmp" "$coredns"
  cd / && rm -rf "$work"
  log "CoreDNS cached at $coredns"
fi

etcd=$(command -v etcd || true)
if [ -z "$etcd" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing etcd-server from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server) >&2
    # The package starts a system etcd on the default ports; tests use their own.
    (systemctl stop etcd 2>/dev/null || service etcd stop 2>/dev/null || pkill -x etcd || true) >&2
    etcd=$(command -v etcd)
  else
    log "etcd not found: install Debian's etcd-server (needs root)"; exit 1
  fi
fi

# promtool and prometheus, from Debian's prometheus package: `promtool test
# rules` on the shipped alerts, and a real Prometheus scraping /probe.
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing promtool (Debian's prometheus package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >&2
    # The package may start a Prometheus server; tests run their own.
    (systemctl stop prometheus 2>/dev/null || service prometheus stop 2>/dev/null || pkill -x prometheus || true) >&2
    promtool=$(command -v promtool)
  else
    log "promtool not found: install Debian's prometheus package (needs root)"; exit 1
  fi
fi

# Chromium, from Debian, for the status page's browser test (headless,
# driven through the DevTools protocol by chromedp).
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing chromium (Debian's package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >&2
    chromium=$(command -v chromium)
  else
    log "chromium not found: install Debian's chromium package (needs root)"; exit 1
  fi
fi

# The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor,
# PrometheusRule...), for the Helm chart's server-side dry run: generated
# with controller-gen from the operator's API types, as the operator's own
# build generates them (the module with its YAML is not on the proxy).
OPERATOR_VERSION=${OPERATOR_VERSION:-v0.95.2}
crds=$CACHE/crds/prometheus-operator-$OPERATOR_VERSION
if [ ! -s "$crds/monitoring.coreos.com_servicemonitors.yaml" ]; then
  log "generating the Prometheus Operator $OPERATOR_VERSION CRDs (once)"
  work=$CACHE/build/crds-$OPERATOR_VERSION
  rm -rf "$work" "$crds.tmp" && mkdir -p "$work" && cd "$work"
  go mod init probe-exporter.test/crds >/dev/null 2>&1
  go get "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring@$OPERATOR_VERSION" >&2
  dir=$(go list -m -f '{{.Dir}}' github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring)
  GOFLAGS= go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 crd paths="$dir/v1" output:crd:dir="$crds.tmp" >&2
  rm -rf "$crds" && mv "$crds.tmp" "$crds"
  cd / && rm -rf "$work"
  log "CRDs cached in $crds"
fi

# The Gateway API's standard CRDs (Gateway, HTTPRoute...) ship as YAML in
# the module the exporter's go.mod requires: its directory in the module
# cache (downloaded once, from the Go module proxy).
gateway_dir=$(cd "$(dirname "$0")/.." && go mod download -json sigs.k8s.io/gateway-api | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -s "$gateway_dir/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" ] || { log "no Gateway API CRDs in '$gateway_dir'"; exit 1; }

echo "export PROBE_EXPORTER_KUBE_APISERVER=$apiserver"
echo "export PROBE_EXPORTER_PROMTOOL=$promtool"
echo "export PROBE_EXPORTER_PROMETHEUS=$(dirname "$promtool")/prometheus"
echo "export PROBE_EXPORTER_ETCD=$etcd"
echo "export PROBE_EXPORTER_COREDNS=$coredns"
echo "export PROBE_EXPORTER_CHROMIUM=$chromium"
echo "export PROBE_EXPORTER_OPERATOR_CRDS=$crds"
echo "export PROBE_EXPORTER_GATEWAY_CRDS=$gateway_dir/config/crd/standard"
