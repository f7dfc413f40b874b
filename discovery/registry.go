package discovery

import (
	"context"
	"log/slog"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/resolver"
)

// Deps are what a mechanism's runtime is built from: the process's shared
// pieces, each mechanism taking what it needs.
type Deps struct {
	// Ctx bounds the runtimes' long-lived work (shared informers).
	Ctx context.Context
	// Kubeconfig, NodeName and UserAgent are the exporter's flags and
	// identity, for API servers.
	Kubeconfig, NodeName, UserAgent string
	// Resolvers and Resolv are the shared DNS resolver pool and its
	// default configuration.
	Resolvers *resolver.Pool
	Resolv    *resolver.Config
	Logger    *slog.Logger
	Metrics   *Metrics
	// Registerer takes the runtimes' own metrics.
	Registerer prometheus.Registerer
}

type mechanism struct {
	newDiscoverer func(Deps) Discoverer
}

var (
	mechanismsMu sync.RWMutex
	mechanisms   = map[string]mechanism{}
)

// Register makes a discovery mechanism known, once, from its package's
// init: key is its block's field in a configuration entry (decoded into
// what newBlock returns, with the decoder's strictness and positions:
// config.RegisterSource), and newDiscoverer builds its runtime. The
// exporter, --once and check then run every registered mechanism.
func Register(key string, newBlock func() config.Source, newDiscoverer func(Deps) Discoverer) {
	config.RegisterSource(key, newBlock)
	mechanismsMu.Lock()
	defer mechanismsMu.Unlock()
	mechanisms[key] = mechanism{newDiscoverer: newDiscoverer}
}

// Discoverers builds the runtime of every registered mechanism, by key.
func Discoverers(d Deps) map[string]Discoverer {
	mechanismsMu.RLock()
	defer mechanismsMu.RUnlock()
	keys := make([]string, 0, len(mechanisms))
	for k := range mechanisms {
		keys = append(keys, k)
	}
	sort.Strings(keys) // metrics register in a stable order
	out := make(map[string]Discoverer, len(keys))
	for _, k := range keys {
		out[k] = mechanisms[k].newDiscoverer(d)
	}
	return out
}
