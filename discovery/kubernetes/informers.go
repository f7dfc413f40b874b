package kubernetes

// Shared informers: one per API server, resource, namespace and field
// selector, reference-counted across entries, with list and watch calls
// observed and retried.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// cluster is one API server (kubeconfig and context) and its informers.
type cluster struct {
	name   string
	client kubernetes.Interface
	// dynamic reads custom resources (Gateway API); nil for a client
	// handed in (Options.Client).
	dynamic   dynamic.Interface
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
func (d *Discoverer) restConfig(cfg *Config) (*rest.Config, error) {
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

// clusterKey is what makes two blocks' API servers one: the same
// kubeconfig and context share a client and its informers.
type clusterKey struct{ kubeconfig, context string }

func (d *Discoverer) cluster(cfg *Config) (*cluster, error) {
	key := clusterKey{cfg.Kubeconfig, cfg.Context}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clusters[key]; ok {
		return c, nil
	}
	if d.opts.Client != nil {
		c := &cluster{name: "client", client: d.opts.Client, informers: map[informerKey]*informer{}}
		d.clusters[key] = c
		return c, nil
	}
	rc, err := d.restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = d.opts.UserAgent
	// Protobuf, as the kubelet and controllers speak to the API server:
	// lists of 10k objects decode several times faster, with less garbage.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	// Custom resources speak JSON only: the dynamic client's own config.
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c := &cluster{name: rc.Host, client: client, dynamic: dyn, informers: map[informerKey]*informer{}}
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
	case "ingresses":
		obj, list, watchFn = &networkingv1.Ingress{}, listFunc(c.client.NetworkingV1().Ingresses(namespace)), c.client.NetworkingV1().Ingresses(namespace).Watch
	case "httproutes", "gateways":
		// Custom resources: listed as unstructured, stored typed (transform).
		api := c.dynamic.Resource(gatewayResource(resource)).Namespace(namespace)
		obj, watchFn = &unstructured.Unstructured{}, api.Watch
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return api.List(ctx, o) }
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
			res, err := retryUnreachable(ctx, func() (runtime.Object, error) {
				res, err := list(ctx, o)
				d.observe(c, inf, err, true)
				return res, err
			})
			if err == nil {
				d.lists.WithLabelValues(resource).Inc()
			}
			return res, err
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
	// No namespace index: a namespace whose labels change (rare) finds its
	// objects by their keys' prefix (relatedChanged), and the index cost
	// a set entry per object (4.5 MB at 20k objects).
	indexers := cache.Indexers{}
	if resource == "endpointslices" {
		// A Service or Pod change finds its slices directly, not by
		// scanning its namespace.
		indexers[byService] = sliceServiceIndex
		indexers[byPod] = slicePodIndex
	}
	inf.SharedIndexInformer = cache.NewSharedIndexInformer(plainListWatch{lw}, obj, 0, indexers)
	_ = inf.SetTransform(func(o any) (any, error) {
		o, err := typed(o)
		if err != nil {
			return nil, err
		}
		return strip(o)
	})
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

// gatewayResource is a Gateway API v1 resource.
func gatewayResource(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: resource}
}

// typed turns a custom resource the dynamic client listed into its Go
// type (Gateway API's), so that builders read fields, not maps; anything
// else passes as it is.
func typed(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	var out runtime.Object
	switch u.GetKind() {
	case "HTTPRoute":
		out = &gatewayv1.HTTPRoute{}
	case "Gateway":
		out = &gatewayv1.Gateway{}
	default:
		return obj, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return nil, fmt.Errorf("decoding %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return out, nil
}

// strip drops what no role reads before objects reach the cache: managed
// fields, the last-applied annotation (often the largest thing in an
// object), the UID and owner references of anything but a pod, of a
// Service's spec all but what its labels read, and, for pods, everything of a container but name, image,
// ports, probes and restart policy, and of an EndpointSlice's endpoints
// the hints and all of a target reference but kind, namespace and name.
// Memory stays flat with cluster size.
func strip(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		delete(m.GetAnnotations(), corev1.LastAppliedConfigAnnotation)
		if _, pod := obj.(*corev1.Pod); !pod {
			// Only a pod's are read (pod_uid, pod_controller_*); an
			// EndpointSlice's owner reference alone is 200 bytes.
			m.SetUID("")
			m.SetOwnerReferences(nil)
		}
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
		// As an EndpointSlice's endpoints (below): exact arrays.
		pod.Spec.Containers = slices.Clone(pod.Spec.Containers)
		pod.Spec.InitContainers = slices.Clone(pod.Spec.InitContainers)
	}
	if svc, ok := obj.(*corev1.Service); ok {
		// What the service labels and the endpointslice role's address
		// family check read; the selector map alone is a few hundred bytes.
		sp := svc.Spec
		svc.Spec = corev1.ServiceSpec{
			Type: sp.Type, ClusterIP: sp.ClusterIP, ExternalName: sp.ExternalName,
			IPFamilies: sp.IPFamilies, LoadBalancerIP: sp.LoadBalancerIP, Ports: sp.Ports,
		}
	}
	if eps, ok := obj.(*discoveryv1.EndpointSlice); ok {
		// Decoding appends endpoints one at a time, leaving an array up to
		// twice their length (10k slices of 5: 13.5 MB where 6 MB is
		// used); the cache keeps one per slice, so keep it exact.
		eps.Endpoints = slices.Clone(eps.Endpoints)
		eps.Ports = slices.Clone(eps.Ports)
		for i := range eps.Endpoints {
			ep := &eps.Endpoints[i]
			ep.Hints = nil
			if r := ep.TargetRef; r != nil {
				ep.TargetRef = &corev1.ObjectReference{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
			}
		}
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
