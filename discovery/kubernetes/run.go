package kubernetes

// One entry's discovery: its informers, work queue and groups.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
)

// Start discovers targets for one entry until ctx ends, calling send with
// every group that changes. It returns
// an error only when it can't start (bad client configuration, scope node
// without a node name): API server trouble is retried, logged and shown
// in metrics, and the last known targets stay.
func (d *Discoverer) Start(ctx context.Context, entry string, block config.Source, send func(discovery.Group)) (discovery.Running, error) {
	cfg, ok := block.(*Config)
	if !ok {
		return nil, fmt.Errorf("target %q: not a kubernetes block: %T", entry, block)
	}
	if err := cfg.Preflight(discovery.Host{NodeName: d.opts.NodeName}); err != nil {
		return nil, fmt.Errorf("target %q: %w", entry, err)
	}
	c, err := d.cluster(cfg)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", entry, err)
	}
	if cfg.Role == RoleHTTPRoute && c.dynamic == nil {
		return nil, fmt.Errorf("target %q: role httproute needs a kubeconfig or the in-cluster configuration (custom resources)", entry)
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
	if cfg.Scope != ScopeCluster {
		r.b.sourceNode = d.opts.NodeName
		r.b.accept = r.acceptNode
	}
	podFields := ""
	if cfg.Scope == ScopeNode {
		// Only this node's pods cross the wire.
		podFields = fields.OneTermEqualSelector("spec.nodeName", d.opts.NodeName).String()
	}
	for _, ns := range namespaces {
		switch cfg.Role {
		case RoleEndpointSlice:
			r.watch(ns, "endpointslices", "", true)
			r.watch(ns, "services", "", false)
			r.watch(ns, "pods", podFields, false)
		case RoleService:
			r.watch(ns, "services", "", true)
		case RolePod:
			r.watch(ns, "pods", podFields, true)
		case RoleStatefulSet:
			r.watch(ns, "statefulsets", "", true)
		case RoleIngress:
			r.watch(ns, "ingresses", "", true)
		case RoleHTTPRoute:
			r.watch(ns, "httproutes", "", true)
		}
	}
	if cfg.Role == RoleHTTPRoute {
		// Routes name Gateways in any namespace (the platform team's).
		r.watch("", "gateways", "", false)
	}
	if (cfg.Role == RoleService && cfg.Address == "nodePort") || cfg.AttachMetadata.Node {
		r.watch("", "nodes", "", false)
	}
	if cfg.AttachMetadata.Namespace {
		r.watch("", "namespaces", "", false)
	}
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
	if cfg.Scope == ScopeMesh {
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
		d.skipMu.Lock()
		delete(d.skipped, entry)
		d.skipMu.Unlock()
		d.metrics.Forget(entry, mechanism)
	}()
	return &running{r: r, stopped: stopped}, nil
}

// running is the handle of one entry's discovery.
type running struct {
	r       *run
	stopped chan struct{}
}

func (h *running) Wait() { <-h.stopped }

// Synced reports the run's synced state, as health last computed it.
func (h *running) Synced() bool { return h.r.isSynced.Load() }

// Resync queues every object of the role again: each group is rebuilt
// from the caches and sent, with no API call.
func (h *running) Resync() { h.r.enqueueAll() }

// run is one entry's discovery.
type run struct {
	d     *Discoverer
	entry string
	// isSynced is health's last verdict (Running.Synced).
	isSynced atomic.Bool
	cfg      *Config
	c        *cluster
	b        *builder
	send     func(discovery.Group)
	queue    workqueue.TypedInterface[string]

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
	case "nodes", "gateways":
		r.enqueueAll()
		return
	case "namespaces":
		// Keys of namespaced objects are "namespace/name".
		prefix := m.GetName() + "/"
		for _, inf := range r.primary {
			for _, key := range inf.GetStore().ListKeys() {
				if strings.HasPrefix(key, prefix) {
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
	case *networkingv1.Ingress:
		g = r.b.ingress(o)
	case *gatewayv1.HTTPRoute:
		g = r.b.httpRoute(o)
	default:
		// Gone: an empty group for its source removes its targets.
		g.Source = r.cfg.Role + "/" + ns + "/" + name
	}
	// API objects are untrusted too: an FQDN slice's address, a load
	// balancer's hostname, a node's address become hosts.
	g.DropInvalidHosts()
	r.d.recordSkipped(r.entry, g.Source, g.Skipped)
	r.send(g)
	return true
}

// lookup for the builder, from the entry's informers.

func (r *run) gateway(namespace, name string) *gatewayv1.Gateway {
	if o := r.get("gateways", namespace, name); o != nil {
		return o.(*gatewayv1.Gateway)
	}
	return nil
}

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
