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
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/discovery"
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
	// Client, when set, is the API every entry uses, whatever its
	// kubeconfig: for tests of the wiring on client-go's fake clientset,
	// which need neither an API server nor root.
	Client kubernetes.Interface
}

// Discoverer runs Kubernetes discovery for any number of entries.
type Discoverer struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context // informers live as long as this

	mu       sync.Mutex
	clusters map[clusterKey]*cluster

	metrics   *discovery.Metrics
	informers prometheus.Gauge
	errs      *prometheus.CounterVec
	events    *prometheus.CounterVec
	lists     *prometheus.CounterVec
	skipMu    sync.Mutex
	skipped   map[string]*skips // by entry

	runsMu sync.Mutex
	runs   map[*run]bool
}

// New returns a Discoverer whose informers run until ctx ends. Its own
// metrics are registered with reg; the shared ones go to metrics.
func New(ctx context.Context, o Options, metrics *discovery.Metrics, reg prometheus.Registerer) *Discoverer {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Discoverer{
		opts: o, log: o.Logger, ctx: ctx, metrics: metrics,
		clusters: map[clusterKey]*cluster{},
		informers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_kubernetes_discovery_informers",
			Help: "Kubernetes watches running: one per resource, namespace and field selector, shared by entries.",
		}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_kubernetes_discovery_errors_total",
			Help: "Failed list or watch calls to the Kubernetes API, by resource and reason (forbidden, unreachable, other).",
		}, []string{"resource", "reason"}),
		lists: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_kubernetes_discovery_lists_total",
			Help: "Complete Kubernetes lists made, by resource: one per informer at start, and one each time a watch expired (410 Gone) or could not resume.",
		}, []string{"resource"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_kubernetes_discovery_events_total",
			Help: "Kubernetes object changes seen, by resource and event (add, update, delete).",
		}, []string{"resource", "event"}),
		skipped: map[string]*skips{},
		runs:    map[*run]bool{},
	}
	if reg != nil {
		reg.MustRegister(d.informers, d.errs, d.events, d.lists)
	}
	return d
}
