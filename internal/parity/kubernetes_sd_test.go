package parity

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	promdiscovery "github.com/prometheus/prometheus/discovery"
	promk8s "github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/discovery"
	ourk8s "github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// labelSet is one target as relabel_configs see it: its __meta_* labels
// and __address__.
type labelSet map[string]string

func (l labelSet) String() string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, l[k])
	}
	return strings.TrimSpace(b.String())
}

// A deliberate difference, as README's "Deliberate differences" lists it:
// Name appears there word for word. Only reports the targets Prometheus
// makes and we don't (or we make and Prometheus doesn't) because of it.
type deliberate struct {
	Name     string
	promOnly func(role string, ls labelSet) bool
	ourOnly  func(role string, ls labelSet) bool
}

// declared are the differences README declares. Each must be seen in the
// run (a stale entry fails too), and nothing else may differ.
var declared = []deliberate{{
	// Prometheus' endpointslice role adds a target per container port of
	// a backing pod that no slice port covers; those have no slice port
	// labels (the API defaults every slice port's protocol).
	Name: "the endpointslice role makes no extra targets for container ports the Service doesn't expose",
	promOnly: func(role string, ls labelSet) bool {
		_, slicePort := ls["__meta_kubernetes_endpointslice_port_protocol"]
		return role == "endpointslice" && !slicePort
	},
}, {
	// A wildcard host is no host to send a request as.
	Name: "the ingress role makes no target for a rule whose host is a wildcard",
	promOnly: func(role string, ls labelSet) bool {
		return role == "ingress" && strings.HasPrefix(ls["__meta_kubernetes_ingress_host"], "*.")
	},
}, {
	// Prometheus' __address__ is the empty host (it would drop the target).
	Name:     "the ingress role gives a rule without a host the controller's address",
	promOnly: func(role string, ls labelSet) bool { return role == "ingress" && ls["__address__"] == "" },
	ourOnly: func(role string, ls labelSet) bool {
		return role == "ingress" && ls["__meta_kubernetes_ingress_host"] == ""
	},
}}

// followsPods is declared too, but in time rather than in labels: our
// endpointslice role rebuilds a slice's targets when a pod behind it
// changes; Prometheus' only when the slice itself changes next.
const followsPods = "the endpointslice role follows a change of a pod behind a slice at once"

// variant is one kubernetes_sd configuration, run by both: Prometheus'
// selectors (for the role's own objects) are our labelSelector and
// fieldSelector.
type variant struct {
	name          string
	role          string
	node, namesp  bool
	label, fields string
}

var variants = []variant{
	{name: "pod", role: "pod"},
	{name: "pod attach_metadata", role: "pod", node: true, namesp: true},
	{name: "pod selectors", role: "pod", label: "parity-phase notin (0),version!=v0", fields: "status.phase=Running,spec.nodeName=node-a"},
	{name: "service", role: "service"},
	{name: "service attach_metadata", role: "service", namesp: true},
	{name: "service selectors", role: "service", label: "!app.kubernetes.io/name", fields: "metadata.name!=lb"},
	{name: "endpointslice", role: "endpointslice"},
	{name: "endpointslice attach_metadata", role: "endpointslice", node: true, namesp: true},
	{name: "endpointslice selectors", role: "endpointslice", label: "kubernetes.io/service-name", fields: "metadata.name!=coredns-x"},
	{name: "ingress", role: "ingress"},
	{name: "ingress attach_metadata", role: "ingress", namesp: true},
	{name: "ingress selectors", role: "ingress", label: "app.kubernetes.io/name", fields: "metadata.name!=other"},
}

// TestKubernetesSD runs Prometheus' kubernetes_sd and the exporter's
// discovery side by side on the same objects of a real API server and
// compares every label of every target, role by role: first as created,
// then after the objects change under both.
func TestKubernetesSD(t *testing.T) {
	c := kubetest.Start(t)
	kubeconfig := c.Kubeconfig(t, "admin")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &world{t: t, ctx: ctx, c: c.Client, ns: "parity"}
	w.create()

	pairs := make([]*pair, len(variants))
	for i, v := range variants {
		pairs[i] = startPair(t, ctx, kubeconfig, w.ns, v)
	}
	seen := map[string]bool{}
	convergeAll(t, pairs, "as created", "1", seen)

	// Objects change under both: labels, ports, endpoints, a pod deleted,
	// a node that appears, a namespace relabelled.
	// First a pod behind slices: ours follows it at once; Prometheus when
	// the slice changes next. See it differ, then change the rest.
	w.changePod()
	for _, p := range pairs {
		if p.v.role == "endpointslice" {
			p.awaitOurs(t, func(ls labelSet) bool {
				return ls["__meta_kubernetes_pod_label_version"] == "v2"
			})
		}
	}
	for _, p := range pairs {
		if p.v.role == "endpointslice" && !p.promHas(func(ls labelSet) bool { return ls["__meta_kubernetes_pod_label_version"] == "v2" }) {
			seen[followsPods] = true
		}
	}
	w.change()
	w.touchSlices("2")
	convergeAll(t, pairs, "after changes", "2", seen)

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(names(declared), followsPods) {
		if !seen[name] {
			t.Errorf("declared difference %q was not seen: drop it from README and from declared", name)
		}
		if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), name) {
			t.Errorf("README does not declare %q", name)
		}
	}
}

func names(ds []deliberate) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

// pair is one variant run by both discoverers.
type pair struct {
	v variant

	mu   sync.Mutex
	prom map[string][]labelSet // by source
	ours map[string][]labelSet
}

func startPair(t *testing.T, ctx context.Context, kubeconfig, ns string, v variant) *pair {
	t.Helper()
	p := &pair{v: v, prom: map[string][]labelSet{}, ours: map[string][]labelSet{}}

	// Prometheus' discovery, configured as a user's kubernetes_sd_configs.
	pc := promk8s.DefaultSDConfig
	pc.Role = promk8s.Role(v.role)
	pc.KubeConfig = kubeconfig
	pc.NamespaceDiscovery = promk8s.NamespaceDiscovery{Names: []string{ns}}
	pc.AttachMetadata = promk8s.AttachMetadataConfig{Node: v.node, Namespace: v.namesp}
	if v.label != "" || v.fields != "" {
		pc.Selectors = []promk8s.SelectorConfig{{Role: promk8s.Role(v.role), Label: v.label, Field: v.fields}}
	}
	reg := promclient.NewRegistry()
	metrics := pc.NewDiscovererMetrics(reg, promdiscovery.NewRefreshMetrics(reg))
	if err := metrics.Register(); err != nil {
		t.Fatal(err)
	}
	d, err := pc.NewDiscoverer(promdiscovery.DiscovererOptions{Logger: slog.New(slog.DiscardHandler), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []*targetgroup.Group)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.Run(ctx, ch) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case tgs := <-ch:
				p.mu.Lock()
				for _, tg := range tgs {
					var sets []labelSet
					for _, tl := range tg.Targets {
						ls := labelSet{}
						for k, v := range tg.Labels {
							ls[string(k)] = string(v)
						}
						for k, v := range tl { // a target's labels win over its group's
							ls[string(k)] = string(v)
						}
						sets = append(sets, ls)
					}
					p.prom[tg.Source] = sets
				}
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(wg.Wait)

	// Ours, configured as the same entry would be.
	oc := &ourk8s.Config{Role: v.role, Namespaces: []string{ns}, Kubeconfig: kubeconfig,
		AttachMetadata: ourk8s.AttachMetadata{Node: v.node, Namespace: v.namesp}, LabelSelector: v.label, FieldSelector: v.fields}
	oc.SetDefaults()
	od := ourk8s.New(ctx, ourk8s.Options{}, discovery.NewMetrics(nil), nil)
	running, err := od.Start(ctx, v.name, oc, func(g discovery.Group) {
		var sets []labelSet
		ids := map[discovery.ID]bool{}
		for _, tg := range g.Targets {
			// The scheduler keeps one target per identity in a source: two
			// targets with one ID would lose a series Prometheus keeps.
			if ids[tg.ID] {
				t.Errorf("%s: %s: two targets with identity %q", v.name, g.Source, tg.ID)
			}
			ids[tg.ID] = true
			ls := labelSet{"__address__": tg.RelabelAddress()}
			for k, v := range tg.Meta {
				ls[k] = v
			}
			sets = append(sets, ls)
		}
		p.mu.Lock()
		p.ours[g.Source] = sets
		p.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(running.Wait)
	return p
}

// snapshot returns both sides' targets, sorted, with the declared
// differences taken out (and reported in seen).
func (p *pair) snapshot(seen map[string]bool) (prom, ours []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	flatten := func(m map[string][]labelSet, only func(d deliberate) func(string, labelSet) bool) []string {
		var out []string
		for _, sets := range m {
		next:
			for _, ls := range sets {
				for _, d := range declared {
					if f := only(d); f != nil && f(p.v.role, ls) {
						if seen != nil {
							seen[d.Name] = true
						}
						continue next
					}
				}
				out = append(out, ls.String())
			}
		}
		sort.Strings(out)
		return out
	}
	return flatten(p.prom, func(d deliberate) func(string, labelSet) bool { return d.promOnly }),
		flatten(p.ours, func(d deliberate) func(string, labelSet) bool { return d.ourOnly })
}

// convergeAll converges every pair at once, so that a difference costs one
// deadline, not one per pair.
func convergeAll(t *testing.T, pairs []*pair, phase, marker string, seen map[string]bool) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := map[string]bool{}
			p.converge(t, phase, marker, s)
			mu.Lock()
			defer mu.Unlock()
			for k := range s {
				seen[k] = true
			}
		}()
	}
	wg.Wait()
}

// converge waits until both sides hold the marker of this phase and agree,
// unchanged over a few reads; else it fails with the difference.
func (p *pair) converge(t *testing.T, phase, marker string, seen map[string]bool) {
	t.Helper()
	want := `__meta_kubernetes_` + markerLabel(p.v.role) + `="` + marker + `"`
	deadline := time.Now().Add(30 * time.Second)
	stable := 0
	var prom, ours []string
	for {
		prom, ours = p.snapshot(nil)
		hasMarker := func(s []string) bool {
			return slices.ContainsFunc(s, func(x string) bool { return strings.Contains(x, want) })
		}
		if hasMarker(prom) && hasMarker(ours) && slices.Equal(prom, ours) {
			if stable++; stable == 5 {
				p.snapshot(seen)
				t.Logf("%s, %s: %d targets agree", p.v.name, phase, len(ours))
				return
			}
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s, %s: Prometheus and probe-exporter differ:\n%s", p.v.name, phase, diff(prom, ours))
}

// awaitOurs waits until one of our targets satisfies ok.
func (p *pair) awaitOurs(t *testing.T, ok func(labelSet) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		found := false
		for _, sets := range p.ours {
			found = found || slices.ContainsFunc(sets, ok)
		}
		p.mu.Unlock()
		if found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%s: our targets never showed the change", p.v.name)
}

// promHas says whether one of Prometheus' targets satisfies ok now.
func (p *pair) promHas(ok func(labelSet) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sets := range p.prom {
		if slices.ContainsFunc(sets, ok) {
			return true
		}
	}
	return false
}

// diff pairs the targets only one side has by __address__ and shows,
// label by label, what differs; a target with no partner is shown whole.
func diff(prom, ours []string) string {
	parse := func(xs []string, other []string) map[string][]labelSet {
		out := map[string][]labelSet{}
		for _, x := range xs {
			if slices.Contains(other, x) {
				continue
			}
			ls := labelSet{}
			for _, kv := range strings.Split(x, "\" ") {
				if k, v, ok := strings.Cut(kv, "=\""); ok {
					ls[k] = strings.TrimSuffix(v, "\"")
				}
			}
			out[ls["__address__"]] = append(out[ls["__address__"]], ls)
		}
		return out
	}
	p, o := parse(prom, ours), parse(ours, prom)
	var b strings.Builder
	for addr, ps := range p {
		for i, pl := range ps {
			if i >= len(o[addr]) {
				fmt.Fprintf(&b, "  only Prometheus: %s\n", pl)
				continue
			}
			ol := o[addr][i]
			fmt.Fprintf(&b, "  %s:", addr)
			for _, k := range union(pl, ol) {
				if pl[k] != ol[k] {
					_, inP := pl[k]
					_, inO := ol[k]
					fmt.Fprintf(&b, " %s: Prometheus %s, probe-exporter %s;", k, show(pl[k], inP), show(ol[k], inO))
				}
			}
			b.WriteString("\n")
		}
	}
	for addr, os := range o {
		for i := len(p[addr]); i < len(os); i++ {
			fmt.Fprintf(&b, "  only probe-exporter: %s\n", os[i])
		}
	}
	return b.String()
}

func union(a, b labelSet) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func show(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return fmt.Sprintf("%q", v)
}

func markerLabel(role string) string {
	switch role {
	case "pod":
		return "pod_label_parity_phase"
	case "service":
		return "service_label_parity_phase"
	case "ingress":
		return "ingress_label_parity_phase"
	}
	return "endpointslice_label_parity_phase"
}

// world is the objects both discoverers see.
type world struct {
	t   *testing.T
	ctx context.Context
	c   kubernetes.Interface
	ns  string
}

func ptr[T any](v T) *T { return &v }

func (w *world) must(_ any, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

var co = metav1.CreateOptions{}

// create makes the tricky objects: multi-port and named ports, UDP and TCP
// on one number, init and sidecar containers, a port declared twice and
// by two containers, headless, ExternalName and LoadBalancer Services, a
// dual-stack Service with a slice per family, slices with no ports, a
// port-less port, unset conditions, FQDN and terminating endpoints, owner
// references, label and annotation keys that need sanitising, a pod
// without an IP and one on a node that does not exist.
func (w *world) create() {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	w.must(c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns,
		Labels:      map[string]string{"team.example.com/owner": "payments", "tier": "1"},
		Annotations: map[string]string{"scheduler.alpha.kubernetes.io/node-selector": "zone=a"}}}, co))
	w.must(c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a",
		Labels:      map[string]string{"topology.kubernetes.io/zone": "zone-a", "node-role.kubernetes.io/worker": ""},
		Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"}}}, co))

	always := corev1.ContainerRestartPolicyAlways
	w.pod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1",
		Labels:          map[string]string{"app.kubernetes.io/name": "web", "version": "v1", "parity-phase": "1"},
		Annotations:     map[string]string{"prometheus.io/scrape": "true", "example.com/odd-key.v1": "x"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-6d4f", UID: "11111111-1111-1111-1111-111111111111", Controller: ptr(true)}}},
		Spec: corev1.PodSpec{NodeName: "node-a",
			InitContainers: []corev1.Container{
				{Name: "migrate", Image: "migrate:1"},
				{Name: "envoy", Image: "envoy:1.30", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 15000}, {Name: "proxy", ContainerPort: 8443}}},
			},
			Containers: []corev1.Container{
				{Name: "app", Image: "web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}},
				{Name: "helper", Image: "helper:1", Ports: []corev1.ContainerPort{{Name: "helper-http", ContainerPort: 8080}}},
				{Name: "portless", Image: "busybox:1"},
			}},
	}, corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.11", PodIPs: []corev1.PodIP{{IP: "192.0.2.11"}, {IP: "2001:db8::11"}}, HostIP: "198.51.100.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		map[string]string{"app": "containerd://aaa", "helper": "containerd://bbb"}, map[string]string{"envoy": "containerd://ccc"})

	w.pod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns-1", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "coredns", Image: "coredns:1.15", Ports: []corev1.ContainerPort{
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
			{Name: "metrics-again", ContainerPort: 9153, Protocol: corev1.ProtocolTCP}, // declared twice
		}}}},
	}, corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.21", HostIP: "198.51.100.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}, nil, nil)

	w.pod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c:1", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
	}, corev1.PodStatus{}, nil, nil)

	w.pod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan-1"},
		Spec: corev1.PodSpec{NodeName: "node-b", Containers: []corev1.Container{{Name: "c", Image: "c:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}},
	}, corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.31", HostIP: "198.51.100.2"}, nil, nil)

	tcp := corev1.ProtocolTCP
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app.kubernetes.io/name": "web"}, Annotations: map[string]string{"prometheus.io/probe": "true"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "metrics", Port: 9090, Protocol: tcp}}}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db-headless"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dns-only"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", Ports: []corev1.ServicePort{{Port: 5432}}}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "203.0.113.10", Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}},
		&corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.2"}}}})
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb-pending"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "203.0.113.20", Ports: []corev1.ServicePort{{Port: 443}}}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dual"},
		Spec: corev1.ServiceSpec{IPFamilyPolicy: ptr(corev1.IPFamilyPolicyRequireDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, nil)
	w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "coredns"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}}}}, nil)

	podRef := func(name string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: "Pod", Namespace: w.ns, Name: name}
	}
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web", "parity-phase": "1"},
		Annotations: map[string]string{"endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), AppProtocol: ptr("http")},
			{Name: ptr("metrics"), Port: ptr(int32(9090)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.11"}, TargetRef: podRef("web-1"), NodeName: ptr("node-a"), Zone: ptr("zone-a"), Hostname: ptr("web-1"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}},
			{Addresses: []string{"192.0.2.12"}}, // unset conditions, no target
			{Addresses: []string{"192.0.2.13"}, TargetRef: podRef("gone-1"), NodeName: ptr("node-b"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}},
			{Addresses: []string{"192.0.2.14"}, TargetRef: &corev1.ObjectReference{Kind: "Node", Name: "node-a"}},
		}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "coredns-x", Labels: map[string]string{discoveryv1.LabelServiceName: "coredns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("dns"), Port: ptr(int32(53)), Protocol: ptr(corev1.ProtocolUDP)}, {Name: ptr("dns-tcp"), Port: ptr(int32(53)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.21"}, TargetRef: podRef("coredns-1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "dual-v4", Labels: map[string]string{discoveryv1.LabelServiceName: "dual"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.41"}}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "dual-v6", Labels: map[string]string{discoveryv1.LabelServiceName: "dual"}},
		AddressType: discoveryv1.AddressTypeIPv6, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"2001:db8::41"}}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "single-v6", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv6, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"2001:db8::11"}, TargetRef: podRef("web-1")}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "dns-only-x", Labels: map[string]string{discoveryv1.LabelServiceName: "dns-only"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.51"}, Hostname: ptr("db-0")}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "any-port", Labels: map[string]string{discoveryv1.LabelServiceName: "db-headless"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr("all")}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.61"}}}})
	w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "external-fqdn", Labels: map[string]string{"endpointslice.kubernetes.io/managed-by": "someone"}},
		AddressType: discoveryv1.AddressTypeFQDN, Ports: []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5432))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}, DeprecatedTopology: map[string]string{"kubernetes.io/hostname": "db"}}}})
	prefix := networkingv1.PathTypePrefix
	exact := networkingv1.PathTypeExact
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}}
	w.ingress(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels:      map[string]string{"app.kubernetes.io/name": "shop", "team.example.com/owner": "payments"},
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr("nginx"),
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"*.shop.example.test"}, SecretName: "wild"}, {Hosts: []string{"api.example.test"}}},
			Rules: []networkingv1.IngressRule{
				{Host: "www.shop.example.test", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/cart", PathType: &prefix, Backend: backend}, {Path: "/healthz", PathType: &exact, Backend: backend}}}}},
				{Host: "api.example.test", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: &prefix, Backend: backend}}}}},
				{Host: "a.b.shop.example.test"}, // the wildcard covers one label only: cleartext
				{Host: "*.wild.example.test"},
				{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/status", PathType: &prefix, Backend: backend}}}}},
			}}})
	w.ingress(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "other.example.test"}}}})
	w.markers("1")
}

// markers are created (or updated) last in each phase: once both sides
// show one, they have seen the phase's changes to that resource.
func (w *world) markers(phase string) {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	labels := map[string]string{"parity-phase": phase}
	if phase == "1" {
		w.pod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "marker", Labels: labels},
			Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "c:1"}}}},
			corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.99"}, nil, nil)
		w.service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "marker", Labels: labels},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 99}}}}, nil)
		w.slice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "marker", Labels: map[string]string{"parity-phase": phase, discoveryv1.LabelServiceName: "marker"}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(99))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.99"}}}})
		w.ingress(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "marker", Labels: map[string]string{"parity-phase": phase, "app.kubernetes.io/name": "marker"}},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "marker.example.test"}}}})
		return
	}
	in, err := c.NetworkingV1().Ingresses(w.ns).Get(ctx, "marker", metav1.GetOptions{})
	w.must(nil, err)
	in.Labels["parity-phase"] = phase
	w.must(c.NetworkingV1().Ingresses(w.ns).Update(ctx, in, metav1.UpdateOptions{}))
	pod, err := c.CoreV1().Pods(w.ns).Get(ctx, "marker", metav1.GetOptions{})
	w.must(nil, err)
	pod.Labels["parity-phase"] = phase
	w.must(c.CoreV1().Pods(w.ns).Update(ctx, pod, metav1.UpdateOptions{}))
	svc, err := c.CoreV1().Services(w.ns).Get(ctx, "marker", metav1.GetOptions{})
	w.must(nil, err)
	svc.Labels["parity-phase"] = phase
	w.must(c.CoreV1().Services(w.ns).Update(ctx, svc, metav1.UpdateOptions{}))
	eps, err := c.DiscoveryV1().EndpointSlices(w.ns).Get(ctx, "marker", metav1.GetOptions{})
	w.must(nil, err)
	eps.Labels["parity-phase"] = phase
	w.must(c.DiscoveryV1().EndpointSlices(w.ns).Update(ctx, eps, metav1.UpdateOptions{}))
}

// changePod relabels a pod behind two slices.
func (w *world) changePod() {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	pod, err := c.CoreV1().Pods(w.ns).Get(ctx, "web-1", metav1.GetOptions{})
	w.must(nil, err)
	pod.Labels["version"] = "v2"
	delete(pod.Annotations, "prometheus.io/scrape")
	w.must(c.CoreV1().Pods(w.ns).Update(ctx, pod, metav1.UpdateOptions{}))
}

// change edits objects under the running discoverers.
func (w *world) change() {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	w.must(nil, c.CoreV1().Pods(w.ns).Delete(ctx, "coredns-1", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}))

	svc, err := c.CoreV1().Services(w.ns).Get(ctx, "web", metav1.GetOptions{})
	w.must(nil, err)
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP})
	svc.Labels["stage"] = "canary"
	w.must(c.CoreV1().Services(w.ns).Update(ctx, svc, metav1.UpdateOptions{}))
	lb, err := c.CoreV1().Services(w.ns).Get(ctx, "lb-pending", metav1.GetOptions{})
	w.must(nil, err)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.21"}}
	w.must(c.CoreV1().Services(w.ns).UpdateStatus(ctx, lb, metav1.UpdateOptions{}))

	eps, err := c.DiscoveryV1().EndpointSlices(w.ns).Get(ctx, "web-abc", metav1.GetOptions{})
	w.must(nil, err)
	eps.Endpoints = eps.Endpoints[:2]
	eps.Endpoints[1].Conditions = discoveryv1.EndpointConditions{Ready: ptr(true)}
	w.must(c.DiscoveryV1().EndpointSlices(w.ns).Update(ctx, eps, metav1.UpdateOptions{}))

	in, err := c.NetworkingV1().Ingresses(w.ns).Get(ctx, "shop", metav1.GetOptions{})
	w.must(nil, err)
	in.Labels["stage"] = "canary"
	in.Spec.TLS = in.Spec.TLS[:1] // api.example.test goes cleartext
	in.Spec.Rules[0].HTTP.Paths = append(in.Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{Path: "", PathType: ptr(networkingv1.PathTypeImplementationSpecific),
		Backend: in.Spec.Rules[0].HTTP.Paths[0].Backend})
	w.must(c.NetworkingV1().Ingresses(w.ns).Update(ctx, in, metav1.UpdateOptions{}))

	// The node orphan-1 runs on appears: with attach_metadata.node its
	// pod gets a target in both.
	w.must(c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-b"}}}, co))
	ns, err := c.CoreV1().Namespaces().Get(ctx, w.ns, metav1.GetOptions{})
	w.must(nil, err)
	ns.Labels["tier"] = "2"
	w.must(c.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}))
}

// touchSlices annotates every slice (as an endpoint controller's next
// write would) and moves the markers to phase.
func (w *world) touchSlices(phase string) {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	list, err := c.DiscoveryV1().EndpointSlices(w.ns).List(ctx, metav1.ListOptions{})
	w.must(nil, err)
	for i := range list.Items {
		eps := &list.Items[i]
		if eps.Annotations == nil {
			eps.Annotations = map[string]string{}
		}
		eps.Annotations["parity-touched"] = phase
		w.must(c.DiscoveryV1().EndpointSlices(w.ns).Update(ctx, eps, metav1.UpdateOptions{}))
	}
	w.markers(phase)
}

// ingress creates an Ingress with a load-balancer address, as its
// controller would publish it (ours probes through it; without one, the
// default address loadBalancer has nowhere to send the requests).
func (w *world) ingress(in *networkingv1.Ingress) {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	created, err := c.NetworkingV1().Ingresses(w.ns).Create(ctx, in, co)
	w.must(nil, err)
	created.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.80"}}
	w.must(c.NetworkingV1().Ingresses(w.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
}

func (w *world) pod(pod *corev1.Pod, status corev1.PodStatus, ids, initIDs map[string]string) {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	pod.Namespace = w.ns
	created, err := c.CoreV1().Pods(w.ns).Create(ctx, pod, co)
	w.must(nil, err)
	if status.PodIP == "" {
		return
	}
	statuses := func(cs []corev1.Container, ids map[string]string) []corev1.ContainerStatus {
		var out []corev1.ContainerStatus
		for _, ct := range cs {
			if id, ok := ids[ct.Name]; ok {
				out = append(out, corev1.ContainerStatus{Name: ct.Name, Image: ct.Image, ContainerID: id,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
			}
		}
		return out
	}
	status.ContainerStatuses = statuses(pod.Spec.Containers, ids)
	status.InitContainerStatuses = statuses(pod.Spec.InitContainers, initIDs)
	created.Status = status
	w.must(c.CoreV1().Pods(w.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
}

func (w *world) service(svc *corev1.Service, status *corev1.ServiceStatus) {
	t, ctx, c := w.t, w.ctx, w.c
	t.Helper()
	svc.Namespace = w.ns
	created, err := c.CoreV1().Services(w.ns).Create(ctx, svc, co)
	w.must(nil, err)
	if status != nil {
		created.Status = *status
		w.must(c.CoreV1().Services(w.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}))
	}
}

func (w *world) slice(eps *discoveryv1.EndpointSlice) {
	w.t.Helper()
	eps.Namespace = w.ns
	w.must(w.c.DiscoveryV1().EndpointSlices(w.ns).Create(w.ctx, eps, co))
}
