// Package kubernetes discovers targets in a Kubernetes cluster: Services,
// EndpointSlices, Pods (optionally with their own probes) and StatefulSet
// pod DNS names. It watches through client-go shared informers, one per
// resource type, namespace and server-side field selector, shared by all
// entries, and emits discovery.Groups keyed by a stable source
// ("endpointslice/<ns>/<name>"), labelled exactly as Prometheus'
// kubernetes_sd labels them.
package kubernetes

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure the Kubernetes discoverer.
type Options struct {
	// Kubeconfig is --kubeconfig: used when an entry names none and the
	// exporter does not run in a cluster.
	Kubeconfig string
	// NodeName is --node-name ($NODE_NAME): this exporter's node, for
	// scope node and mesh.
	NodeName string
	// UserAgent identifies the exporter to the API server.
	UserAgent string
	Logger    *slog.Logger
}

// Discoverer runs Kubernetes discovery for any number of entries.
type Discoverer struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context // informers live as long as this

	mu       sync.Mutex
	clusters map[string]*cluster

	synced    *prometheus.GaugeVec
	informers prometheus.Gauge
	errs      *prometheus.CounterVec
	events    *prometheus.CounterVec
	skipped   *prometheus.GaugeVec
	skipMu    sync.Mutex
	skipSrcs  map[string]map[string]map[string]int // entry -> source -> reason -> n

	runsMu sync.Mutex
	runs   map[*run]bool
}

// New returns a Discoverer whose informers run until ctx ends. Its metrics
// are registered with reg.
func New(ctx context.Context, o Options, reg prometheus.Registerer) *Discoverer {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Discoverer{
		opts: o, log: o.Logger, ctx: ctx,
		clusters: map[string]*cluster{},
		synced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_synced",
			Help: "Whether the entry's Kubernetes discovery has listed everything and its API server answers (1) or not (0): targets are the last known.",
		}, []string{"target"}),
		informers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_informers",
			Help: "Kubernetes watches running: one per resource, namespace and field selector, shared by entries.",
		}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_discovery_errors_total",
			Help: "Failed list or watch calls to the Kubernetes API, by resource and reason (forbidden, unreachable, other).",
		}, []string{"resource", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_discovery_events_total",
			Help: "Kubernetes object changes seen, by resource and event (add, update, delete).",
		}, []string{"resource", "event"}),
		skipped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_skipped",
			Help: "Discovered things not probed, by entry and reason (headless_service, exec_probe, container_not_running, ...).",
		}, []string{"target", "reason"}),
		skipSrcs: map[string]map[string]map[string]int{},
		runs:     map[*run]bool{},
	}
	if reg != nil {
		reg.MustRegister(d.synced, d.informers, d.errs, d.events, d.skipped)
	}
	return d
}
