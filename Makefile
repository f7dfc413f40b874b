# probe-exporter — the README's two commands are `make run` and `make test`.
GO       ?= go
BIN      := bin/probe-exporter
LISTEN   ?= 127.0.0.1:9878

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test vet fmt-check lint bench soak clean

all: build

# build: hack/build.sh stamps the version from git (the Dockerfile runs it too).
build:
	GO=$(GO) hack/build.sh $(BIN)

# run: the exporter on the embedded quickstart config (it probes its own
# endpoints); open http://$(LISTEN)/metrics.
run: build
	./$(BIN) --web.listen-address=$(LISTEN)

# test: the tests run a real kube-apiserver, etcd, CoreDNS, promtool and
# Chromium (the status page's screenshot lands in test-artifacts/);
# hack/test-binaries.sh builds and caches them (once: a few minutes cold).
# internal/parity is a module of its own (Prometheus' discovery code as a
# library, without moving our pinned dependencies): go test ./... does not
# enter it, so it runs on its own, on the same binaries.
PARITY := internal/parity

test: vet fmt-check lint
	@mkdir -p test-artifacts && eval "$$(hack/test-binaries.sh)" && $(GO) test -race -count=1 -timeout 20m -artifacts -outputdir=$(CURDIR)/test-artifacts ./... && \
	  cd $(PARITY) && $(GO) test -race -count=1 -timeout 10m ./...

vet:
	$(GO) vet ./...
	cd $(PARITY) && $(GO) vet ./...

# lint: staticcheck, pinned, fetched through the Go module proxy (cached).
lint:
	GOFLAGS= $(GO) run $(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# bench: CPU per probe against a raw Go loop in the same run (a fixed count:
# tens of thousands of loopback connections in TIME-WAIT slow both loops
# and blur the ratio), scheduler memory per target at 10k and 100k targets,
# scheduler overhead per run, scrape cost at 10k and 100k targets, the
# status view's first page at 100k probes (alone and across replicas), peak
# memory of loading a 100k-host file against yaml.v3's node tree alone,
# peak memory of an attempt against a hostile 10 MiB response head; the
# binary idle at 100k targets, discovering 10k Services, pinned to one
# core at 1.2x its capacity under fixed and adaptive in-flight bounds, and
# its capacity on one core next to a raw loop's (httpGet, tcpSocket).
bench:
	$(GO) test -run '^$$' -bench '^Benchmark(HTTP|TCP|TCPSelf)$$' -benchmem -benchtime=20000x -count=3 -timeout 30m ./prober/
	$(GO) test -run '^$$' -bench '^BenchmarkHostileHead$$' -benchmem -benchtime=5x -count=1 -timeout 30m ./prober/
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./scheduler/ ./collector/ ./status/ ./web/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=3x -count=1 -timeout 30m ./config/
	eval "$$(hack/test-binaries.sh)" && $(GO) test -run '^$$' -bench '^Benchmark(IdleTargets|DiscoveryScale|GatePatchRate|Overload|AdaptiveSideBySide|Capacity)$$' -benchtime=1x -count=1 -timeout 40m ./cmd/probe-exporter/

# soak: 2,000 mixed healthy and hostile targets at period 1 s for 10 minutes
# (SOAK=5m to change it); goroutines, fds and RSS sampled, and back at their
# baseline once the targets are gone. Not in CI.
SOAK ?= 10m
soak:
	PROBE_EXPORTER_SOAK=$(SOAK) $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 60m ./cmd/probe-exporter/

clean:
	rm -rf bin
