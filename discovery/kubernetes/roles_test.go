package kubernetes

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/probe"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ptr[T any](v T) *T { return &v }

// objects is a lookup over fixed objects: the builders are pure, so plain
// API objects test them; the informers around them are tested end to end
// against a real API server (cmd/probe-exporter).
type objects struct {
	gateways   []*gatewayv1.Gateway
	services   []*corev1.Service
	pods       []*corev1.Pod
	nodeList   []*corev1.Node
	namespaces []*corev1.Namespace
}

func (o *objects) node(name string) *corev1.Node {
	for _, n := range o.nodeList {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (o *objects) namespace(name string) *corev1.Namespace {
	for _, n := range o.namespaces {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (o *objects) service(ns, name string) *corev1.Service {
	for _, s := range o.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

func (o *objects) pod(ns, name string) *corev1.Pod {
	for _, p := range o.pods {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	return nil
}

func (o *objects) nodes() []*corev1.Node { return o.nodeList }

func (o *objects) gateway(ns, name string) *gatewayv1.Gateway {
	for _, g := range o.gateways {
		if g.Namespace == ns && g.Name == name {
			return g
		}
	}
	return nil
}

func newBuilder(cfg Config, look lookup) *builder {
	c := cfg
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.IPFamily == "" {
		c.IPFamily = "primary"
	}
	if c.Address == "" && c.Role == RoleService {
		c.Address = "dns"
	}
	return &builder{cfg: &c, labels: labels.Everything(), fields: fields.Everything(), look: look}
}

// TestEndpointSliceLabels pins the __meta_kubernetes_* names of one
// endpoint to Prometheus' (discovery/kubernetes/endpointslice.go and its
// tests), so relabeling written for Prometheus works here unchanged.
func TestEndpointSliceLabels(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app.kubernetes.io/name": "web"}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1",
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-6d", Controller: ptr(true)}}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "admin", ContainerPort: 9000}}}}},
		Status: corev1.PodStatus{PodIP: "192.0.2.1", HostIP: "198.51.100.1", Phase: corev1.PodRunning,
			PodIPs:            []corev1.PodIP{{IP: "192.0.2.1"}, {IP: "2001:db8::1"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://abc"}}},
	}
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}, Annotations: map[string]string{"note": "n"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP), AppProtocol: ptr("http")}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"192.0.2.1"}, Hostname: ptr("web-1"), NodeName: ptr("node-a"), Zone: ptr("z1"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1"},
		}},
	}
	g := newBuilder(Config{Role: RoleEndpointSlice}, &objects{services: []*corev1.Service{svc}, pods: []*corev1.Pod{pod}}).endpointSlice(eps)
	if g.Source != "endpointslice/shop/web-x" || len(g.Targets) != 1 {
		t.Fatalf("group %+v", g)
	}
	tg := g.Targets[0]
	want := map[string]string{
		"__meta_kubernetes_namespace":                                             "shop",
		"__meta_kubernetes_endpointslice_name":                                    "web-x",
		"__meta_kubernetes_endpointslice_address_type":                            "IPv4",
		"__meta_kubernetes_endpointslice_label_kubernetes_io_service_name":        "web",
		"__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name": "true",
		"__meta_kubernetes_endpointslice_annotation_note":                         "n",
		"__meta_kubernetes_endpointslice_annotationpresent_note":                  "true",
		"__meta_kubernetes_endpointslice_port":                                    "8080",
		"__meta_kubernetes_endpointslice_port_name":                               "http",
		"__meta_kubernetes_endpointslice_port_protocol":                           "TCP",
		"__meta_kubernetes_endpointslice_port_app_protocol":                       "http",
		"__meta_kubernetes_endpointslice_endpoint_conditions_ready":               "true",
		"__meta_kubernetes_endpointslice_endpoint_conditions_serving":             "true",
		"__meta_kubernetes_endpointslice_endpoint_conditions_terminating":         "false",
		"__meta_kubernetes_endpointslice_endpoint_hostname":                       "web-1",
		"__meta_kubernetes_endpointslice_endpoint_node_name":                      "node-a",
		"__meta_kubernetes_endpointslice_endpoint_zone":                           "z1",
		"__meta_kubernetes_endpointslice_address_target_kind":                     "Pod",
		"__meta_kubernetes_endpointslice_address_target_name":                     "web-1",
		"__meta_kubernetes_service_name":                                          "web",
		"__meta_kubernetes_service_label_app_kubernetes_io_name":                  "web",
		"__meta_kubernetes_service_labelpresent_app_kubernetes_io_name":           "true",
		"__meta_kubernetes_pod_name":                                              "web-1",
		"__meta_kubernetes_pod_ip":                                                "192.0.2.1",
		"__meta_kubernetes_pod_ready":                                             "unknown",
		"__meta_kubernetes_pod_phase":                                             "Running",
		"__meta_kubernetes_pod_node_name":                                         "node-a",
		"__meta_kubernetes_pod_host_ip":                                           "198.51.100.1",
		"__meta_kubernetes_pod_uid":                                               "uid-1",
		"__meta_kubernetes_pod_controller_kind":                                   "ReplicaSet",
		"__meta_kubernetes_pod_controller_name":                                   "web-6d",
		"__meta_kubernetes_pod_container_name":                                    "app",
		"__meta_kubernetes_pod_container_image":                                   "web:1",
		"__meta_kubernetes_pod_container_init":                                    "false",
		"__meta_kubernetes_pod_container_port_name":                               "http",
		"__meta_kubernetes_pod_container_port_number":                             "8080",
		"__meta_kubernetes_pod_container_port_protocol":                           "TCP",
	}
	if !reflect.DeepEqual(tg.Meta, want) {
		diff(t, tg.Meta, want)
	}
	wantLabels := map[string]string{"namespace": "shop", "service": "web", "pod": "web-1", "node": "node-a", "zone": "z1", "hostname": "web-1",
		"ready": "true", "serving": "true", "terminating": "false"}
	if !reflect.DeepEqual(tg.Labels, wantLabels) {
		diff(t, tg.Labels, wantLabels)
	}
	if tg.Host != "192.0.2.1" || tg.Port != 8080 {
		t.Errorf("address %s:%d", tg.Host, tg.Port)
	}
	// Named ports: the pod's container ports (kubelet rule) and the slice's.
	if tg.NamedPorts["http"] != 8080 || tg.NamedPorts["admin"] != 9000 {
		t.Errorf("named ports %v", tg.NamedPorts)
	}
}

func diff(t *testing.T, got, want map[string]string) {
	t.Helper()
	var lines []string
	for k, v := range want {
		if got[k] != v {
			lines = append(lines, "want "+k+"="+v+", got "+got[k])
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, "unexpected "+k+"="+v)
		}
	}
	sort.Strings(lines)
	t.Errorf("labels differ:\n%s", strings.Join(lines, "\n"))
}

func TestEndpointSliceFamiliesAndScope(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}}}
	slice := func(family discoveryv1.AddressType, addr string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "s-" + string(family), Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: family,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{addr}, NodeName: ptr("a")},
				{Addresses: []string{addr + "0"}, NodeName: ptr("b")},
			},
		}
	}
	look := &objects{services: []*corev1.Service{svc}}
	primary := newBuilder(Config{Role: RoleEndpointSlice}, look)
	if n := len(primary.endpointSlice(slice(discoveryv1.AddressTypeIPv4, "192.0.2.1")).Targets); n != 0 {
		t.Errorf("IPv4 slice of an IPv6-primary service: %d targets, want 0", n)
	}
	if n := len(primary.endpointSlice(slice(discoveryv1.AddressTypeIPv6, "2001:db8::1")).Targets); n != 2 {
		t.Errorf("primary family: %d targets", n)
	}
	v4 := newBuilder(Config{Role: RoleEndpointSlice, IPFamily: "IPv4"}, look)
	if n := len(v4.endpointSlice(slice(discoveryv1.AddressTypeIPv4, "192.0.2.1")).Targets); n != 2 {
		t.Errorf("ipFamily IPv4: %d targets", n)
	}
	node := newBuilder(Config{Role: RoleEndpointSlice, Scope: ScopeNode}, look)
	node.accept = func(n string) bool { return n == "b" }
	node.sourceNode = "b"
	g := node.endpointSlice(slice(discoveryv1.AddressTypeIPv6, "2001:db8::1"))
	if len(g.Targets) != 1 || g.Targets[0].Labels["source_node"] != "b" || g.Targets[0].Labels["node"] != "b" {
		t.Errorf("scope node: %+v", g.Targets)
	}
}

func TestServiceAddresses(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.5"}, {Hostname: "lb.example"}}}},
	}
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "198.51.100.1"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "203.0.113.2"}}}},
	}
	for _, c := range []struct {
		address string
		want    []string
	}{
		{"dns", []string{"api.ns.svc.cluster.local:443"}},
		{"clusterIP", []string{"10.96.0.10:443"}},
		{"loadBalancer", []string{"203.0.113.5:443", "lb.example:443"}},
		{"nodePort", []string{"198.51.100.1:30443", "203.0.113.2:30443"}},
	} {
		g := newBuilder(Config{Role: RoleService, Address: c.address}, &objects{nodeList: nodes}).service(svc)
		var got []string
		for _, tg := range g.Targets {
			got = append(got, tg.Host+":"+itoa(tg.Port))
			if tg.Meta["__meta_kubernetes_service_port_name"] != "https" || tg.Meta["__meta_kubernetes_service_port_number"] != "443" ||
				tg.Meta["__meta_kubernetes_service_type"] != "LoadBalancer" || tg.Meta["__meta_kubernetes_service_cluster_ip"] != "10.96.0.10" {
				t.Errorf("%s: meta %v", c.address, tg.Meta)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.address, got, c.want)
		}
	}
	headless := svc.DeepCopy()
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	headless.Status = corev1.ServiceStatus{}
	for address, reason := range map[string]string{"clusterIP": SkipHeadless, "loadBalancer": SkipNoIngress} {
		g := newBuilder(Config{Role: RoleService, Address: address}, &objects{}).service(headless)
		if len(g.Targets) != 0 || g.Skipped[reason] != 1 {
			t.Errorf("%s of a headless service without ingress: %+v", address, g)
		}
	}
}

func TestPodInherited(t *testing.T) {
	started := time.Unix(1700000000, 0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("web")}}},
					LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}},
				{Name: "noprobes"},
				{Name: "waiting", ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}}},
			},
			InitContainers: []corev1.Container{
				{Name: "sidecar", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
					StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, FailureThreshold: 30}},
				{Name: "init-once", ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}}},
			},
		},
		Status: corev1.PodStatus{PodIP: "192.0.2.1", Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", ContainerID: "c://1", RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}},
				{Name: "waiting", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}},
			},
			InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "sidecar", ContainerID: "c://2", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}},
			}},
	}
	g := newBuilder(Config{Role: RolePod, InheritProbes: true}, &objects{}).pod(pod)
	if len(g.Targets) != 2 {
		t.Fatalf("want app and the sidecar, got %+v", g.Targets)
	}
	app := g.Targets[0]
	if app.ID != "app|c://1|2" || !app.Since.Equal(started) || app.NamedPorts["web"] != 8080 || app.Port != 0 {
		t.Errorf("app target %+v", app)
	}
	if len(app.Probes) != 1 || app.Probes[0].Kind != probe.Readiness || app.Probes[0].Probe.PeriodSeconds != 10 || app.Probes[0].Probe.HTTPGet.Path != "/" {
		t.Errorf("app probes (defaults applied): %+v", app.Probes)
	}
	if sc := g.Targets[1]; sc.Labels["container"] != "sidecar" || sc.Probes[0].Kind != probe.Startup || sc.Probes[0].Probe.FailureThreshold != 30 {
		t.Errorf("sidecar %+v", sc)
	}
	if g.Skipped[SkipExecProbe] != 1 || g.Skipped[SkipNotRunning] != 1 {
		t.Errorf("skipped %v", g.Skipped)
	}
	pod.Status.Phase = corev1.PodSucceeded
	if g := newBuilder(Config{Role: RolePod, InheritProbes: true}, &objects{}).pod(pod); len(g.Targets) != 0 {
		t.Errorf("a finished pod has targets")
	}
}

func TestStatefulSet(t *testing.T) {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
		Spec: appsv1.StatefulSetSpec{ServiceName: "db-hl", Replicas: ptr(int32(3)), Ordinals: &appsv1.StatefulSetOrdinals{Start: 5}}}
	g := newBuilder(Config{Role: RoleStatefulSet, ClusterDomain: "corp.local"}, &objects{}).statefulSet(sts)
	var hosts []string
	for _, tg := range g.Targets {
		hosts = append(hosts, tg.Host)
	}
	want := []string{"db-5.db-hl.ns.svc.corp.local", "db-6.db-hl.ns.svc.corp.local", "db-7.db-hl.ns.svc.corp.local"}
	if !reflect.DeepEqual(hosts, want) {
		t.Errorf("hosts %v, want %v", hosts, want)
	}
	sts.Spec.ServiceName = ""
	if g := newBuilder(Config{Role: RoleStatefulSet}, &objects{}).statefulSet(sts); g.Skipped[SkipNoServiceName] != 1 {
		t.Errorf("no serviceName: %+v", g)
	}
}

func TestSelectors(t *testing.T) {
	b := newBuilder(Config{Role: RolePod}, &objects{})
	b.labels, _ = labels.Parse("app=web")
	b.fields, _ = fields.ParseSelector("spec.nodeName=n1")
	pod := func(app, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": app}},
			Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
			Status: corev1.PodStatus{PodIP: "192.0.2.1"}}
	}
	for _, c := range []struct {
		app, node string
		want      int
	}{{"web", "n1", 1}, {"db", "n1", 0}, {"web", "n2", 0}} {
		if got := len(b.pod(pod(c.app, c.node)).Targets); got != c.want {
			t.Errorf("app=%s node=%s: %d targets, want %d", c.app, c.node, got, c.want)
		}
	}
}

func TestPeers(t *testing.T) {
	nodes := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	for _, self := range nodes {
		p := Peers(self, nodes, 2)
		if len(p) != 3 || !p[self] {
			t.Errorf("%s: %v", self, p)
		}
		// Deterministic: every call agrees.
		if !reflect.DeepEqual(p, Peers(self, []string{"n7", "n6", "n5", "n4", "n3", "n2", "n1", "n0"}, 2)) {
			t.Errorf("%s: order of candidates changed the choice", self)
		}
	}
	// Rendezvous: removing a node that was not chosen changes nothing.
	p := Peers("n0", nodes, 2)
	var other string
	for _, n := range nodes[1:] {
		if !p[n] {
			other = n
			break
		}
	}
	var rest []string
	for _, n := range nodes {
		if n != other {
			rest = append(rest, n)
		}
	}
	if !reflect.DeepEqual(p, Peers("n0", rest, 2)) {
		t.Error("removing an unchosen node moved the choice")
	}
}

func TestSliceIndexes(t *testing.T) {
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		Endpoints: []discoveryv1.Endpoint{
			{TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p1"}},
			{TargetRef: &corev1.ObjectReference{Kind: "Node", Name: "n1"}},
			{},
		},
	}
	if got, _ := sliceServiceIndex(eps); !reflect.DeepEqual(got, []string{"ns/web"}) {
		t.Errorf("service index %v", got)
	}
	if got, _ := slicePodIndex(eps); !reflect.DeepEqual(got, []string{"ns/p1"}) {
		t.Errorf("pod index %v", got)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, Options{}, discovery.NewMetrics(reg), reg)
	d.metrics.ReportSynced(func() []discovery.EntrySynced {
		return []discovery.EntrySynced{{Entry: "web", Mechanism: mechanism, Synced: true}}
	})
	d.errs.WithLabelValues("pods", "forbidden").Inc()
	d.events.WithLabelValues("pods", "add").Inc()
	d.recordSkipped("web", "pod/ns/p", map[string]int{SkipExecProbe: 1})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestEndpointConditionDefaults: the API's meaning of unset conditions in
// the default labels; __meta_* only for conditions that are set.
func TestEndpointConditionDefaults(t *testing.T) {
	for _, c := range []struct {
		name                        string
		cond                        discoveryv1.EndpointConditions
		ready, serving, terminating string
	}{
		{"all unset", discoveryv1.EndpointConditions{}, "true", "true", "false"},
		{"not ready, serving unset", discoveryv1.EndpointConditions{Ready: ptr(false)}, "false", "false", "false"},
		{"terminating, still serving", discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}, "false", "true", "true"},
	} {
		eps := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}, Conditions: c.cond}},
		}
		tg := newBuilder(Config{Role: RoleEndpointSlice}, &objects{}).endpointSlice(eps).Targets[0]
		if tg.Labels["ready"] != c.ready || tg.Labels["serving"] != c.serving || tg.Labels["terminating"] != c.terminating {
			t.Errorf("%s: labels %v", c.name, tg.Labels)
		}
		if _, set := tg.Meta["__meta_kubernetes_endpointslice_endpoint_conditions_ready"]; set != (c.cond.Ready != nil) {
			t.Errorf("%s: ready meta label present=%v", c.name, set)
		}
	}
}

// TestEndpointSliceFQDN: FQDN slices are probed by name whatever ipFamily.
func TestEndpointSliceFQDN(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "ns"},
		Spec: corev1.ServiceSpec{IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}}}
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "ext-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "ext"}},
		AddressType: discoveryv1.AddressTypeFQDN,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(443))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"db.example.internal"}}},
	}
	for _, family := range []string{"primary", "IPv4", "IPv6"} {
		g := newBuilder(Config{Role: RoleEndpointSlice, IPFamily: family}, &objects{services: []*corev1.Service{svc}}).endpointSlice(eps)
		if len(g.Targets) != 1 || g.Targets[0].Host != "db.example.internal" || g.Targets[0].Port != 443 {
			t.Errorf("ipFamily %s: %+v", family, g)
		}
	}
	// A single-stack Service's slices are never filtered by "primary".
	v6 := eps.DeepCopy()
	v6.AddressType = discoveryv1.AddressTypeIPv6
	v6.Endpoints[0].Addresses = []string{"2001:db8::1"}
	if g := newBuilder(Config{Role: RoleEndpointSlice, IPFamily: "primary"}, &objects{services: []*corev1.Service{svc}}).endpointSlice(v6); len(g.Targets) != 1 {
		t.Errorf("single-stack service, other family: %d targets, want 1", len(g.Targets))
	}
}

// TestEndpointSidecarPort: an endpoint port served by a restartable init
// container (a sidecar) gets its container labels, as in Prometheus.
func TestEndpointSidecarPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
			InitContainers: []corev1.Container{{Name: "proxy", Image: "envoy:1", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 15000, Protocol: corev1.ProtocolTCP}}}},
		},
		Status: corev1.PodStatus{PodIP: "192.0.2.9", InitContainerStatuses: []corev1.ContainerStatus{{Name: "proxy", ContainerID: "containerd://px"}}},
	}
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(15000))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.9"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p"}}},
	}
	tg := newBuilder(Config{Role: RoleEndpointSlice}, &objects{pods: []*corev1.Pod{pod}}).endpointSlice(eps).Targets[0]
	for k, v := range map[string]string{
		"__meta_kubernetes_pod_container_name": "proxy", "__meta_kubernetes_pod_container_init": "true",
		"__meta_kubernetes_pod_container_image": "envoy:1", "__meta_kubernetes_pod_container_port_name": "admin",
		"__meta_kubernetes_pod_container_id": "", // the pod role's only, as in Prometheus
	} {
		if tg.Meta[k] != v {
			t.Errorf("%s=%q, want %q", k, tg.Meta[k], v)
		}
	}
	if tg.NamedPorts["admin"] != 15000 || tg.NamedPorts["http"] != 8080 {
		t.Errorf("named ports %v", tg.NamedPorts)
	}
}

// TestAttachMetadata: node and namespace labels and annotations under
// Prometheus' names, only when asked for.
func TestAttachMetadata(t *testing.T) {
	look := &objects{
		nodeList:   []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/zone": "z1"}, Annotations: map[string]string{"a": "b"}}}},
		namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{"team": "pay"}}}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{PodIP: "192.0.2.1"}}
	want := map[string]string{
		"__meta_kubernetes_node_name":                                     "n1",
		"__meta_kubernetes_node_label_topology_kubernetes_io_zone":        "z1",
		"__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone": "true",
		"__meta_kubernetes_node_annotation_a":                             "b",
		"__meta_kubernetes_node_annotationpresent_a":                      "true",
		"__meta_kubernetes_namespace_label_team":                          "pay",
		"__meta_kubernetes_namespace_labelpresent_team":                   "true",
	}
	on := newBuilder(Config{Role: RolePod, AttachMetadata: AttachMetadata{Node: true, Namespace: true}}, look).pod(pod).Targets[0]
	off := newBuilder(Config{Role: RolePod}, look).pod(pod).Targets[0]
	for k, v := range want {
		if on.Meta[k] != v {
			t.Errorf("attached: %s=%q, want %q", k, on.Meta[k], v)
		}
		if _, ok := off.Meta[k]; ok {
			t.Errorf("not asked for, but %s is set", k)
		}
	}
}

// TestSkippedTotals: skipped counts are kept as running totals per entry,
// following each source's latest group.
func TestSkippedTotals(t *testing.T) {
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := New(ctx, Options{}, discovery.NewMetrics(reg), nil)
	d.recordSkipped("pods", "pod/ns/a", map[string]int{SkipExecProbe: 2})
	d.recordSkipped("pods", "pod/ns/b", map[string]int{SkipExecProbe: 1, SkipNotRunning: 1})
	d.recordSkipped("pods", "pod/ns/c", nil)
	d.recordSkipped("pods", "pod/ns/a", map[string]int{SkipExecProbe: 1}) // a changed
	d.recordSkipped("pods", "pod/ns/b", nil)                              // b gone
	want := `
# HELP probe_exporter_discovery_skipped Discovered things not probed, by entry, mechanism and reason (headless_service, exec_probe, container_not_running, ...).
# TYPE probe_exporter_discovery_skipped gauge
probe_exporter_discovery_skipped{mechanism="kubernetes",reason="exec_probe",target="pods"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "probe_exporter_discovery_skipped"); err != nil {
		t.Error(err)
	}
}

// TestRelevantChange: a node's status heartbeat does not rebuild every
// group; a change of its labels, annotations or addresses does.
func TestRelevantChange(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"a": "1"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}}}}
	heartbeat := node.DeepCopy()
	heartbeat.ResourceVersion = "2"
	relabelled := node.DeepCopy()
	relabelled.Labels["a"] = "2"
	moved := node.DeepCopy()
	moved.Status.Addresses[0].Address = "192.0.2.2"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
	annotated := ns.DeepCopy()
	annotated.Annotations = map[string]string{"team": "x"}
	for _, c := range []struct {
		name     string
		old, cur any
		want     bool
	}{
		{"node heartbeat", node, heartbeat, false},
		{"node label", node, relabelled, true},
		{"node address", node, moved, true},
		{"namespace unchanged", ns, ns.DeepCopy(), false},
		{"namespace annotation", ns, annotated, true},
		{"other objects always", &corev1.Service{}, &corev1.Service{}, true},
	} {
		if got := relevantChange(c.old, c.cur); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPrometheusRules: the corners where Prometheus' kubernetes_sd has a
// rule of its own (the differential test in internal/parity checks the
// same on a real API server against Prometheus' code).
func TestPrometheusRules(t *testing.T) {
	t.Run("UDP and TCP on one number are two targets", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dns", Namespace: "ns"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}, // declared twice
			}}}},
			Status: corev1.PodStatus{PodIP: "192.0.2.1"}}
		g := newBuilder(Config{Role: RolePod}, &objects{}).pod(pod)
		ids := map[discovery.ID]string{}
		for _, tg := range g.Targets {
			if prev, dup := ids[tg.ID]; dup {
				t.Errorf("ID %q twice (%s, %s)", tg.ID, prev, tg.Meta["__meta_kubernetes_pod_container_port_protocol"])
			}
			ids[tg.ID] = tg.Meta["__meta_kubernetes_pod_container_port_protocol"]
		}
		if len(g.Targets) != 3 || len(ids) != 3 {
			t.Errorf("%d targets, %d identities; want 3 and 3", len(g.Targets), len(ids))
		}
	})
	t.Run("the last container that declares the endpoint's port names it", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Image: "a:1", Ports: []corev1.ContainerPort{{Name: "a-http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {Name: "a-again", ContainerPort: 80, Protocol: corev1.ProtocolUDP}}},
				{Name: "b", Image: "b:1", Ports: []corev1.ContainerPort{{Name: "b-http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}}},
			}},
			Status: corev1.PodStatus{PodIP: "192.0.2.1"}}
		eps := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p"}}}}
		m := newBuilder(Config{Role: RoleEndpointSlice}, &objects{pods: []*corev1.Pod{pod}}).endpointSlice(eps).Targets[0].Meta
		if m["__meta_kubernetes_pod_container_name"] != "b" || m["__meta_kubernetes_pod_container_port_name"] != "b-http" || m["__meta_kubernetes_pod_container_image"] != "b:1" {
			t.Errorf("container labels %v", m)
		}
	})
	t.Run("a slice without ports has no targets", func(t *testing.T) {
		eps := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}}}}
		g := newBuilder(Config{Role: RoleEndpointSlice}, &objects{}).endpointSlice(eps)
		if len(g.Targets) != 0 || g.Skipped[SkipNoPorts] != 1 {
			t.Errorf("targets %d, skipped %v", len(g.Targets), g.Skipped)
		}
	})
	t.Run("load balancer IPs from the status, the spec as fallback", func(t *testing.T) {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "203.0.113.9", Ports: []corev1.ServicePort{{Port: 80}}}}
		get := func(s *corev1.Service) string {
			return newBuilder(Config{Role: RoleService, Address: "dns"}, &objects{}).service(s).Targets[0].Meta["__meta_kubernetes_service_loadbalancer_ip"]
		}
		if got := get(svc); got != "203.0.113.9" {
			t.Errorf("spec only: %q", got)
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}, {Hostname: "lb.example"}, {IP: "2001:db8::1"}}
		if got := get(svc); got != "203.0.113.1,2001:db8::1" {
			t.Errorf("status: %q", got)
		}
	})
	t.Run("attached namespace metadata has no name; a pod on an unknown node has no target", func(t *testing.T) {
		look := &objects{namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}},
			nodeList: []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}}, Status: corev1.PodStatus{PodIP: "192.0.2.1"}}
		b := newBuilder(Config{Role: RolePod, AttachMetadata: AttachMetadata{Node: true, Namespace: true}}, look)
		g := b.pod(pod)
		if len(g.Targets) != 1 {
			t.Fatalf("%d targets", len(g.Targets))
		}
		if _, ok := g.Targets[0].Meta["__meta_kubernetes_namespace_name"]; ok {
			t.Error("__meta_kubernetes_namespace_name is set")
		}
		pod.Spec.NodeName = "gone"
		if g := b.pod(pod); len(g.Targets) != 0 || g.Skipped[SkipNodeNotFound] != 1 {
			t.Errorf("unknown node: %d targets, skipped %v", len(g.Targets), g.Skipped)
		}
	})
}

// TestPreflight: what Start refuses, --config.check says, through the one
// check the block carries (discovery.Preflight).
func TestPreflight(t *testing.T) {
	t.Parallel()
	var _ discovery.Preflight = (*Config)(nil)
	for _, c := range []struct {
		scope, node string
		fails       bool
	}{
		{ScopeCluster, "", false},
		{ScopeNode, "", true},
		{ScopeMesh, "", true},
		{ScopeMesh, "node-a", false},
	} {
		cfg := &Config{Role: RolePod, Scope: c.scope}
		err := cfg.Preflight(discovery.Host{NodeName: c.node})
		if (err != nil) != c.fails {
			t.Errorf("scope %s, node %q: %v", c.scope, c.node, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		d := New(ctx, Options{NodeName: c.node, Client: fake.NewSimpleClientset()}, discovery.NewMetrics(nil), nil)
		run, startErr := d.Start(ctx, "pods", cfg, func(discovery.Group) {})
		if (startErr != nil) != c.fails || (startErr != nil && !strings.Contains(startErr.Error(), err.Error())) {
			t.Errorf("scope %s, node %q: Start says %v, the check %v", c.scope, c.node, startErr, err)
		}
		cancel()
		if run != nil {
			run.Wait()
		}
	}
}
