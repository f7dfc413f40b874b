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
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	"github.com/probe-exporter/probe-exporter/config"
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

// cluster is one API server (kubeconfig and context) and its informers.
type cluster struct {
	name      string
	client    kubernetes.Interface
	informers map[informerKey]*informer
	// unreachable is logged once for the cluster, not per informer.
	unreachable atomic.Bool
}

type informerKey struct {
	resource  string
	namespace string
	fields    string
}

type informer struct {
	cache.SharedIndexInformer
	key     informerKey
	healthy atomic.Bool
	// listing is true from a list call until the watch that follows it
	// starts (the reflector calls watch only once the listed objects are
	// in the store): meanwhile the cache is being replaced, not synced.
	listing atomic.Bool
	// refs counts the entries using it (guarded by Discoverer.mu); the
	// last to leave stops it.
	refs int
	stop context.CancelFunc

	mu    sync.Mutex
	state string // the last logged state, to log changes only
}

// transition sets the informer's state and reports the previous one, and
// whether it changed.
func (inf *informer) transition(to string) (string, bool) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	prev := inf.state
	inf.state = to
	return prev, prev != to
}

// restConfig: the entry's kubeconfig or context if set, else in-cluster,
// else --kubeconfig, $KUBECONFIG, ~/.kube/config.
func (d *Discoverer) restConfig(cfg *config.Kubernetes) (*rest.Config, error) {
	if cfg.Kubeconfig == "" && cfg.Context == "" {
		if c, err := rest.InClusterConfig(); err == nil {
			return c, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	switch {
	case cfg.Kubeconfig != "":
		rules.ExplicitPath = cfg.Kubeconfig
	case d.opts.Kubeconfig != "":
		rules.ExplicitPath = d.opts.Kubeconfig
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	return c, nil
}

func (d *Discoverer) cluster(cfg *config.Kubernetes) (*cluster, error) {
	key := cfg.Kubeconfig + "|" + cfg.Context
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clusters[key]; ok {
		return c, nil
	}
	rc, err := d.restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = d.opts.UserAgent
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c := &cluster{name: rc.Host, client: client, informers: map[informerKey]*informer{}}
	d.clusters[key] = c
	return c, nil
}

// informer returns the shared informer for resource in namespace ("" is
// all) with a server-side field selector, starting it on first use.
func (d *Discoverer) informer(c *cluster, resource, namespace, fieldSelector string) *informer {
	key := informerKey{resource, namespace, fieldSelector}
	d.mu.Lock()
	defer d.mu.Unlock()
	if inf, ok := c.informers[key]; ok {
		inf.refs++
		return inf
	}
	inf := &informer{key: key, refs: 1}
	var obj runtime.Object
	var list func(context.Context, metav1.ListOptions) (runtime.Object, error)
	var watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)
	switch resource {
	case "endpointslices":
		obj, list, watchFn = &discoveryv1.EndpointSlice{}, listFunc(c.client.DiscoveryV1().EndpointSlices(namespace)), c.client.DiscoveryV1().EndpointSlices(namespace).Watch
	case "services":
		obj, list, watchFn = &corev1.Service{}, listFunc(c.client.CoreV1().Services(namespace)), c.client.CoreV1().Services(namespace).Watch
	case "pods":
		obj, list, watchFn = &corev1.Pod{}, listFunc(c.client.CoreV1().Pods(namespace)), c.client.CoreV1().Pods(namespace).Watch
	case "statefulsets":
		obj, list, watchFn = &appsv1.StatefulSet{}, listFunc(c.client.AppsV1().StatefulSets(namespace)), c.client.AppsV1().StatefulSets(namespace).Watch
	case "nodes":
		obj, list, watchFn = &corev1.Node{}, listFunc(c.client.CoreV1().Nodes()), c.client.CoreV1().Nodes().Watch
	case "namespaces":
		obj, list, watchFn = &corev1.Namespace{}, listFunc(c.client.CoreV1().Namespaces()), c.client.CoreV1().Namespaces().Watch
	default:
		panic("kubernetes: no informer for " + resource)
	}
	inf.listing.Store(true)
	lw := &cache.ListWatch{
		// Every call is observed here: the reflector retries some failures
		// (a refused watch) inside itself without reporting them.
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			inf.listing.Store(true)
			d.changed()
			return retryUnreachable(ctx, func() (runtime.Object, error) {
				res, err := list(ctx, o)
				d.observe(c, inf, err, true)
				return res, err
			})
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			w, err := retryUnreachable(ctx, func() (watch.Interface, error) {
				w, err := watchFn(ctx, o)
				d.observe(c, inf, err, true)
				return w, err
			})
			if err == nil && inf.listing.Swap(false) {
				d.changed()
			}
			return w, err
		},
	}
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	if resource == "endpointslices" {
		// A Service or Pod change finds its slices directly, not by
		// scanning its namespace.
		indexers[byService] = sliceServiceIndex
		indexers[byPod] = slicePodIndex
	}
	inf.SharedIndexInformer = cache.NewSharedIndexInformer(plainListWatch{lw}, obj, 0, indexers)
	_ = inf.SetTransform(strip)
	// List errors reach this handler too, and were counted already.
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { d.observe(c, inf, err, false) })
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { d.events.WithLabelValues(resource, "add").Inc() },
		UpdateFunc: func(any, any) { d.events.WithLabelValues(resource, "update").Inc() },
		DeleteFunc: func(any) { d.events.WithLabelValues(resource, "delete").Inc() },
	})
	c.informers[key] = inf
	ctx, stop := context.WithCancel(d.ctx)
	inf.stop = stop
	d.informers.Inc()
	go inf.RunWithContext(ctx)
	return inf
}

// plainListWatch opts out of client-go's watch-list streaming: a relist
// is then a list call followed by a watch, which is what tells
// probe_exporter_discovery_synced that the cache is being replaced (after
// a 410 Gone, say) and when it is done.
type plainListWatch struct{ *cache.ListWatch }

func (plainListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// retryBackoff bounds how long an unreachable API server goes unnoticed
// once it is back. client-go's reflector backs off up to 30 s with full
// jitter (a minute in the worst case); retrying transport failures here,
// every 250 ms growing to 2 s, means the reflector never sees them, and
// discovery is back within a few seconds of the API server.
var retryBackoff = struct{ initial, max time.Duration }{250 * time.Millisecond, 2 * time.Second}

// retryUnreachable calls fn until it succeeds, fails for a reason other
// than an unreachable API server (forbidden, 410 Gone: the reflector must
// see those), or ctx ends.
func retryUnreachable[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	delay := retryBackoff.initial
	for {
		v, err := fn()
		if err == nil || reason(err) != "unreachable" || ctx.Err() != nil {
			return v, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		delay = min(2*delay, retryBackoff.max)
	}
}

// changed tells every run that an informer's state changed, so its
// synced gauge is recomputed.
func (d *Discoverer) changed() {
	d.runsMu.Lock()
	defer d.runsMu.Unlock()
	for r := range d.runs {
		r.kick()
	}
}

// release is an entry's goodbye to an informer; the last one stops it, so
// a reload that drops a namespace leaves no watch behind.
func (d *Discoverer) release(c *cluster, inf *informer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if inf.refs--; inf.refs > 0 {
		return
	}
	inf.stop()
	delete(c.informers, inf.key)
	d.informers.Dec()
}

const (
	byService = "service"
	byPod     = "pod"
)

func sliceServiceIndex(obj any) ([]string, error) {
	eps, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || eps.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{eps.Namespace + "/" + eps.Labels[discoveryv1.LabelServiceName]}, nil
}

func slicePodIndex(obj any) ([]string, error) {
	eps, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, ep := range eps.Endpoints {
		if r := ep.TargetRef; r != nil && r.Kind == "Pod" {
			keys = append(keys, r.Namespace+"/"+r.Name)
		}
	}
	return keys, nil
}

// lister is what a typed client offers for listing one resource.
type lister[L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
}

// listFunc adapts a typed List to the untyped one a ListWatch wants.
func listFunc[L runtime.Object](api lister[L]) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return api.List(ctx, o) }
}

// strip drops what no role reads before objects reach the cache: managed
// fields, the last-applied annotation (often the largest thing in an
// object) and, for pods, everything of a container but name, image,
// ports, probes and restart policy. Memory stays flat with cluster size.
func strip(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		delete(m.GetAnnotations(), corev1.LastAppliedConfigAnnotation)
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		pod.Spec.Volumes = nil
		for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range cs {
				c := &cs[i]
				*c = corev1.Container{
					Name: c.Name, Image: c.Image, Ports: c.Ports, RestartPolicy: c.RestartPolicy,
					LivenessProbe: c.LivenessProbe, ReadinessProbe: c.ReadinessProbe, StartupProbe: c.StartupProbe,
				}
			}
		}
		pod.Spec.EphemeralContainers = nil
	}
	if node, ok := obj.(*corev1.Node); ok {
		// Metadata and addresses are all any role reads; images and
		// conditions are most of a node.
		node.Spec = corev1.NodeSpec{}
		node.Status = corev1.NodeStatus{Addresses: node.Status.Addresses}
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Spec, ns.Status = corev1.NamespaceSpec{}, corev1.NamespaceStatus{}
	}
	return obj, nil
}

func reason(err error) string {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return "forbidden"
	case errors.As(err, &opErr), errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return "unreachable"
	}
	// Some transport errors arrive only as text.
	for _, s := range []string{"connection refused", "connection reset", "no such host", "i/o timeout", "EOF",
		"client connection lost", "TLS handshake timeout", "no route to host", "GOAWAY"} {
		if strings.Contains(err.Error(), s) {
			return "unreachable"
		}
	}
	return "other"
}

// observe records the outcome of an API call: it counts failures and logs
// when the informer's state changes, not on every retry, so there is no
// log storm while an API server is down. A forbidden error says which verb
// and resource RBAC lacks.
func (d *Discoverer) observe(c *cluster, inf *informer, err error, count bool) {
	if err == nil {
		d.healthy(c, inf)
		return
	}
	if errors.Is(err, context.Canceled) && d.ctx.Err() != nil {
		return // shutting down
	}
	r := reason(err)
	if count {
		d.errs.WithLabelValues(inf.key.resource, r).Inc()
	}
	inf.healthy.Store(false)
	if _, changed := inf.transition(r); !changed {
		return
	}
	d.changed()
	if r == "unreachable" && c.unreachable.Swap(true) {
		return // said already for this API server
	}
	ns := inf.key.namespace
	if ns == "" {
		ns = "all namespaces"
	}
	switch r {
	case "forbidden":
		d.log.Error("kubernetes: permission denied; grant get, list and watch on this resource (see examples/kubernetes/rbac.yaml)",
			"resource", inf.key.resource, "namespace", ns, "api_server", c.name, "err", err)
	case "unreachable":
		d.log.Warn("kubernetes: API server unreachable; keeping the last known targets and retrying with backoff",
			"api_server", c.name, "err", err)
	default:
		d.log.Warn("kubernetes: cannot list or watch; keeping the last known targets and retrying with backoff",
			"resource", inf.key.resource, "namespace", ns, "api_server", c.name, "err", err)
	}
}

func (d *Discoverer) healthy(c *cluster, inf *informer) {
	inf.healthy.Store(true)
	prev, changed := inf.transition("ok")
	if changed {
		d.changed()
	}
	switch {
	case prev == "" || prev == "ok":
	case c.unreachable.Swap(false):
		// Whatever this informer saw last, the cluster was unreachable.
		d.log.Info("kubernetes: API server reachable again", "api_server", c.name)
	case prev != "unreachable":
		d.log.Info("kubernetes: listing works again", "resource", inf.key.resource, "namespace", inf.key.namespace, "api_server", c.name)
	}
}

// Start discovers targets for one entry until ctx ends, calling send with
// every group that changes. It returns
// an error only when it can't start (bad client configuration, scope node
// without a node name): API server trouble is retried, logged and shown
// in metrics, and the last known targets stay.
func (d *Discoverer) Start(ctx context.Context, entry string, cfg *config.Kubernetes, send func(discovery.Group)) (discovery.Running, error) {
	if cfg.Scope != config.ScopeCluster && d.opts.NodeName == "" {
		return nil, fmt.Errorf("target %q: scope %s needs the node name: --node-name or $NODE_NAME (the downward API's spec.nodeName)", entry, cfg.Scope)
	}
	c, err := d.cluster(cfg)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", entry, err)
	}
	ls, _ := labels.Parse(cfg.LabelSelector) // validated at load
	fs, _ := fields.ParseSelector(cfg.FieldSelector)
	namespaces := cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	r := &run{d: d, entry: entry, cfg: cfg, c: c, send: send,
		queue:   workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: entry}),
		recheck: make(chan struct{}, 1), remesh: make(chan struct{}, 1)}
	r.b = &builder{cfg: cfg, labels: ls, fields: fs, look: r}
	if cfg.Scope != config.ScopeCluster {
		r.b.sourceNode = d.opts.NodeName
		r.b.accept = r.acceptNode
	}
	podFields := ""
	if cfg.Scope == config.ScopeNode {
		// Only this node's pods cross the wire.
		podFields = fields.OneTermEqualSelector("spec.nodeName", d.opts.NodeName).String()
	}
	for _, ns := range namespaces {
		switch cfg.Role {
		case config.RoleEndpointSlice:
			r.watch(ns, "endpointslices", "", true)
			r.watch(ns, "services", "", false)
			r.watch(ns, "pods", podFields, false)
		case config.RoleService:
			r.watch(ns, "services", "", true)
		case config.RolePod:
			r.watch(ns, "pods", podFields, true)
		case config.RoleStatefulSet:
			r.watch(ns, "statefulsets", "", true)
		}
	}
	if (cfg.Role == config.RoleService && cfg.Address == "nodePort") || cfg.AttachMetadata.Node {
		r.watch("", "nodes", "", false)
	}
	if cfg.AttachMetadata.Namespace {
		r.watch("", "namespaces", "", false)
	}
	d.synced.WithLabelValues(entry).Set(0)
	d.runsMu.Lock()
	d.runs[r] = true
	d.runsMu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.health(ctx) }()
	go func() {
		defer wg.Done()
		for r.processNext() {
		}
	}()
	if cfg.Scope == config.ScopeMesh {
		wg.Add(1)
		go func() { defer wg.Done(); r.mesh(ctx) }()
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		r.queue.ShutDown()
		wg.Wait()
		d.runsMu.Lock()
		delete(d.runs, r)
		d.runsMu.Unlock()
		for _, reg := range r.regs {
			_ = reg.inf.RemoveEventHandler(reg.h)
			d.release(c, reg.inf)
		}
		d.synced.DeleteLabelValues(entry)
		d.skipMu.Lock()
		delete(d.skipSrcs, entry)
		d.skipMu.Unlock()
		d.publishSkipped(entry)
	}()
	return &running{r: r, stopped: stopped}, nil
}

// running is the handle of one entry's discovery.
type running struct {
	r       *run
	stopped chan struct{}
}

func (h *running) Wait() { <-h.stopped }

// Resync queues every object of the role again: each group is rebuilt
// from the caches and sent, with no API call.
func (h *running) Resync() { h.r.enqueueAll() }

// run is one entry's discovery.
type run struct {
	d     *Discoverer
	entry string
	cfg   *config.Kubernetes
	c     *cluster
	b     *builder
	send  func(discovery.Group)
	queue workqueue.TypedInterface[string]

	primary []*informer // the role's own objects
	related map[string][]*informer
	regs    []registration
	peers   atomic.Pointer[map[string]bool]

	// busy is 1 while processNext builds and sends a group.
	busy atomic.Int32
	// recheck wakes health when something may have changed synced;
	// remesh wakes mesh when the role's objects changed.
	recheck, remesh chan struct{}
}

func (r *run) kick() { signal(r.recheck) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

type registration struct {
	inf *informer
	h   cache.ResourceEventHandlerRegistration
}

// watch subscribes to an informer. Changes of the role's own objects are
// queued by key; changes of related objects queue the primary objects
// they affect.
func (r *run) watch(ns, resource, fieldSelector string, primary bool) {
	inf := r.d.informer(r.c, resource, ns, fieldSelector)
	if r.related == nil {
		r.related = map[string][]*informer{}
	}
	var h cache.ResourceEventHandler
	if primary {
		r.primary = append(r.primary, inf)
		enqueue := func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				r.queue.Add(key)
			}
			signal(r.remesh)
		}
		h = cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue}
	} else {
		r.related[resource] = append(r.related[resource], inf)
		related := func(obj any) { r.relatedChanged(resource, obj) }
		h = cache.ResourceEventHandlerFuncs{AddFunc: related, DeleteFunc: related, UpdateFunc: func(old, o any) {
			if relevantChange(old, o) {
				related(o)
			}
		}}
	}
	reg, err := inf.AddEventHandler(h)
	if err != nil {
		r.d.release(r.c, inf)
		return
	}
	r.regs = append(r.regs, registration{inf, reg})
}

func (r *run) relatedChanged(resource string, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	switch resource {
	case "nodes":
		r.enqueueAll()
		return
	case "namespaces":
		for _, inf := range r.primary {
			objs, _ := inf.GetIndexer().ByIndex(cache.NamespaceIndex, m.GetName())
			for _, o := range objs {
				if key, err := cache.MetaNamespaceKeyFunc(o); err == nil {
					r.queue.Add(key)
				}
			}
		}
		return
	case "services", "pods":
		// EndpointSlices of the Service, or that point at the Pod.
		index := byService
		if resource == "pods" {
			index = byPod
		}
		for _, inf := range r.primary {
			objs, _ := inf.GetIndexer().ByIndex(index, m.GetNamespace()+"/"+m.GetName())
			for _, o := range objs {
				if key, err := cache.MetaNamespaceKeyFunc(o); err == nil {
					r.queue.Add(key)
				}
			}
		}
	}
}

func (r *run) enqueueAll() {
	for _, inf := range r.primary {
		for _, key := range inf.GetStore().ListKeys() {
			r.queue.Add(key)
		}
	}
}

func (r *run) processNext() bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	r.busy.Store(1)
	defer func() {
		r.queue.Done(key)
		r.busy.Store(0)
		if r.queue.Len() == 0 {
			r.kick()
		}
	}()
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return true
	}
	var obj any
	for _, inf := range r.primary {
		if o, ok, _ := inf.GetStore().GetByKey(key); ok {
			obj = o
			break
		}
	}
	var g discovery.Group
	switch o := obj.(type) {
	case *discoveryv1.EndpointSlice:
		g = r.b.endpointSlice(o)
	case *corev1.Service:
		g = r.b.service(o)
	case *corev1.Pod:
		g = r.b.pod(o)
	case *appsv1.StatefulSet:
		g = r.b.statefulSet(o)
	default:
		// Gone: an empty group for its source removes its targets.
		g.Source = r.cfg.Role + "/" + ns + "/" + name
	}
	r.d.recordSkipped(r.entry, g.Source, g.Skipped)
	r.send(g)
	return true
}

// health keeps probe_exporter_discovery_synced current, recomputed when
// an informer's state changes or the work queue drains: 1 only when every
// informer has listed (and is not relisting), its API server answers,
// every handler has been given the listed objects, and every group built
// from them has reached the scheduler.
func (r *run) health(ctx context.Context) {
	var wait <-chan time.Time
	for {
		ok, handlersPending := r.synced()
		v := 0.0
		if ok {
			v = 1
		}
		r.d.synced.WithLabelValues(r.entry).Set(v)
		// Handlers are told the listed objects asynchronously, with no
		// event when done: while that is all that is missing, look again
		// shortly.
		wait = nil
		if handlersPending {
			wait = time.After(20 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.recheck:
		case <-wait:
		}
	}
}

func (r *run) synced() (ok, handlersPending bool) {
	for _, reg := range r.regs {
		if !reg.inf.HasSynced() || reg.inf.listing.Load() || !reg.inf.healthy.Load() {
			return false, false
		}
	}
	for _, reg := range r.regs {
		if !reg.h.HasSynced() {
			return false, true
		}
	}
	return r.queue.Len() == 0 && r.busy.Load() == 0, false
}

// mesh recomputes which other nodes this exporter probes: the MeshPeers
// nodes that rank highest by rendezvous hashing of (this node, that node)
// among the nodes that have targets. Each node picks its own K, so total
// work grows N·K, and a node joining or leaving moves few choices.
func (r *run) mesh(ctx context.Context) {
	for {
		nodes := map[string]bool{}
		for _, inf := range r.primary {
			for _, o := range inf.GetStore().List() {
				switch v := o.(type) {
				case *discoveryv1.EndpointSlice:
					for _, ep := range v.Endpoints {
						if ep.NodeName != nil {
							nodes[*ep.NodeName] = true
						}
					}
				case *corev1.Pod:
					nodes[v.Spec.NodeName] = true
				}
			}
		}
		chosen := Peers(r.d.opts.NodeName, keys(nodes), int(r.cfg.MeshPeers))
		if old := r.peers.Load(); old == nil || !equalSet(*old, chosen) {
			r.peers.Store(&chosen)
			r.enqueueAll()
		}
		// Recomputed when the role's objects change (event-driven, not
		// polled); bursts of events coalesce into one pass.
		select {
		case <-ctx.Done():
			return
		case <-r.remesh:
		}
	}
}

func (r *run) acceptNode(node string) bool {
	if node == r.d.opts.NodeName {
		return true
	}
	if r.cfg.Scope != config.ScopeMesh {
		return false
	}
	p := r.peers.Load()
	return p != nil && (*p)[node]
}

// Peers returns self and the k nodes among candidates that rank highest
// for self by rendezvous hashing.
func Peers(self string, candidates []string, k int) map[string]bool {
	type scored struct {
		node  string
		score uint64
	}
	var s []scored
	for _, n := range candidates {
		if n == self || n == "" {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(self))
		h.Write([]byte{0})
		h.Write([]byte(n))
		s = append(s, scored{n, h.Sum64()})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].score > s[j].score })
	out := map[string]bool{self: true}
	for i := 0; i < len(s) && i < k; i++ {
		out[s[i].node] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func (d *Discoverer) recordSkipped(entry, source string, skipped map[string]int) {
	d.skipMu.Lock()
	srcs := d.skipSrcs[entry]
	if srcs == nil {
		srcs = map[string]map[string]int{}
		d.skipSrcs[entry] = srcs
	}
	if len(skipped) == 0 {
		delete(srcs, source)
	} else {
		srcs[source] = skipped
	}
	d.skipMu.Unlock()
	d.publishSkipped(entry)
}

func (d *Discoverer) publishSkipped(entry string) {
	d.skipMu.Lock()
	defer d.skipMu.Unlock()
	totals := map[string]int{}
	for _, reasons := range d.skipSrcs[entry] {
		for r, n := range reasons {
			totals[r] += n
		}
	}
	for _, r := range []string{SkipHeadless, SkipNoIngress, SkipNoNodePort, SkipNoServiceName, SkipExecProbe, SkipNotRunning, SkipNoPodIP} {
		if n, ok := totals[r]; ok {
			d.skipped.WithLabelValues(entry, r).Set(float64(n))
		} else {
			d.skipped.DeleteLabelValues(entry, r)
		}
	}
}

// lookup for the builder, from the entry's informers.

func (r *run) service(namespace, name string) *corev1.Service {
	if o := r.get("services", namespace, name); o != nil {
		return o.(*corev1.Service)
	}
	return nil
}

func (r *run) pod(namespace, name string) *corev1.Pod {
	if o := r.get("pods", namespace, name); o != nil {
		return o.(*corev1.Pod)
	}
	return nil
}

func (r *run) nodes() []*corev1.Node {
	var out []*corev1.Node
	for _, inf := range r.related["nodes"] {
		for _, o := range inf.GetStore().List() {
			out = append(out, o.(*corev1.Node))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *run) node(name string) *corev1.Node {
	if o := r.get("nodes", "", name); o != nil {
		return o.(*corev1.Node)
	}
	return nil
}

func (r *run) namespace(name string) *corev1.Namespace {
	if o := r.get("namespaces", "", name); o != nil {
		return o.(*corev1.Namespace)
	}
	return nil
}

// relevantChange tells an update of a related object that changes a
// target from one that doesn't: a node's status heartbeat must not rebuild
// every group.
func relevantChange(old, cur any) bool {
	switch o := old.(type) {
	case *corev1.Node:
		c, ok := cur.(*corev1.Node)
		return !ok || !maps.Equal(o.Labels, c.Labels) || !maps.Equal(o.Annotations, c.Annotations) ||
			!slices.Equal(o.Status.Addresses, c.Status.Addresses)
	case *corev1.Namespace:
		c, ok := cur.(*corev1.Namespace)
		return !ok || !maps.Equal(o.Labels, c.Labels) || !maps.Equal(o.Annotations, c.Annotations)
	}
	return true
}

func (r *run) get(resource, namespace, name string) any {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	for _, inf := range r.related[resource] {
		if o, ok, _ := inf.GetStore().GetByKey(key); ok {
			return o
		}
	}
	return nil
}
