package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hits is an HTTP server that counts the requests it gets, by path.
type hits struct {
	mu sync.Mutex
	n  int
}

func (h *hits) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func countingServer(t *testing.T, addr string) *hits {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &hits{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
		fmt.Fprintln(w, "ok")
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return h
}

func series(mfs map[string]*dto.MetricFamily, name string, want map[string]string) int {
	return len(matching(mfs, name, want))
}

// testAddressChanges: a target that keeps its identity while its address
// changes is probed at the new address from then on, and its series say
// so: a relabelled __address__ from a pod annotation, a named port
// renumbered in the EndpointSlice.
func (k *kubeEnv) testAddressChanges(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "addr")
	oldAnn, newAnn := countingServer(t, "192.0.2.21:7001"), countingServer(t, "192.0.2.21:7002")
	oldPort, newPort := countingServer(t, "192.0.2.22:8080"), countingServer(t, "192.0.2.22:8081")
	pod := runningPod(t, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ann", Namespace: "addr", Annotations: map[string]string{"probe/address": "192.0.2.21:7001"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}},
	}, "192.0.2.21", map[string]string{"app": "containerd://ann"})
	slice := must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("addr").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "named", Labels: map[string]string{discoveryv1.LabelServiceName: "named"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.22"}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: annotated
    kubernetes: {role: pod, namespaces: [addr]}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_probe_address]
        regex: (.+)
        target_label: __address__
    readinessProbe: {httpGet: {path: /}, periodSeconds: 1}
  - name: named
    kubernetes: {role: endpointslice, namespaces: [addr]}
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
`)
	e.eventually(t, "both probed at their first address", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"target": "annotated", "address": "192.0.2.21:7001"}, 1)(mfs) &&
			stateIs(map[string]string{"target": "named", "address": "192.0.2.22:8080"}, 1)(mfs)
	}, nil)

	pod.Annotations["probe/address"] = "192.0.2.21:7002"
	must[*corev1.Pod](t)(c.CoreV1().Pods("addr").Update(bg, pod, metav1.UpdateOptions{}))
	slice.Ports[0].Port = ptr(int32(8081))
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("addr").Update(bg, slice, metav1.UpdateOptions{}))
	var stale map[string]int
	e.eventually(t, "both probed at their new address, under the new address", func(mfs map[string]*dto.MetricFamily) bool {
		ok := stateIs(map[string]string{"target": "annotated", "address": "192.0.2.21:7002"}, 1)(mfs) &&
			stateIs(map[string]string{"target": "named", "address": "192.0.2.22:8081"}, 1)(mfs) &&
			!hasSeries(map[string]string{"address": "192.0.2.21:7001"})(mfs) && !hasSeries(map[string]string{"address": "192.0.2.22:8080"})(mfs)
		if ok {
			stale = map[string]int{"annotation": oldAnn.count(), "port": oldPort.count()}
		}
		return ok
	}, nil)
	// Once the series moved, no request goes to the old addresses, and
	// the new ones keep getting them.
	a, p := newAnn.count(), newPort.count()
	e.eventually(t, "more requests at the new addresses", func(map[string]*dto.MetricFamily) bool {
		return newAnn.count() >= a+2 && newPort.count() >= p+2
	}, nil)
	if oldAnn.count() != stale["annotation"] || oldPort.count() != stale["port"] {
		t.Errorf("requests still go to the old addresses: annotation %d -> %d, port %d -> %d",
			stale["annotation"], oldAnn.count(), stale["port"], oldPort.count())
	}
}

// testOneProbePerRequest: a Service with ports http and metrics and a
// probe naming port http: one worker per endpoint, one series.
func (k *kubeEnv) testOneProbePerRequest(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "ports")
	h1, h2 := countingServer(t, "192.0.2.31:8080"), countingServer(t, "192.0.2.32:8080")
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("ports").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "two", Labels: map[string]string{discoveryv1.LabelServiceName: "two"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("metrics"), Port: ptr(int32(9090))}, {Name: ptr("http"), Port: ptr(int32(8080))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.31"}}, {Addresses: []string{"192.0.2.32"}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: two
    kubernetes: {role: endpointslice, namespaces: [ports]}
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 2}
`)
	e.eventually(t, "both endpoints probed", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"target": "two", "address": "192.0.2.31:8080"}, 1)(mfs) &&
			stateIs(map[string]string{"target": "two", "address": "192.0.2.32:8080"}, 1)(mfs)
	}, nil)
	mfs := e.scrape(t)
	if n := series(mfs, "probe_state", map[string]string{"target": "two"}); n != 2 {
		t.Errorf("%d probe_state series, want 2 (one per endpoint)", n)
	}
	if v, _ := value(mfs, "probe_exporter_targets", map[string]string{"target": "two"}); v != 2 {
		t.Errorf("probe_exporter_targets %v, want 2", v)
	}
	// One worker each: attempts and requests match one probe's.
	attempts, _ := value(mfs, "probe_results_total", map[string]string{"target": "two", "address": "192.0.2.31:8080", "result": "success"})
	if got := h1.count(); float64(got) > attempts+1 {
		t.Errorf("192.0.2.31 got %d requests for %v counted results: probed twice", got, attempts)
	}
	_ = h2
}

// testExactTargetCount: 20 pods with identical container names and ports
// are 20 targets, on every scrape.
func (k *kubeEnv) testExactTargetCount(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "twenty")
	for i := 0; i < 20; i++ {
		runningPod(t, c, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "twenty"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}},
		}, fmt.Sprintf("192.0.2.%d", 100+i), map[string]string{"app": fmt.Sprintf("containerd://p%d", i)})
	}
	e := k.exporter(t, `
targets:
  - name: twenty
    kubernetes: {role: pod, namespaces: [twenty]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 60}
`)
	count := func(mfs map[string]*dto.MetricFamily) float64 {
		v, _ := value(mfs, "probe_exporter_targets", map[string]string{"target": "twenty"})
		return v
	}
	e.eventually(t, "20 targets", func(mfs map[string]*dto.MetricFamily) bool { return count(mfs) == 20 }, nil)
	for i := 0; i < 20; i++ {
		if n := count(e.scrape(t)); n != 20 {
			t.Fatalf("scrape %d: probe_exporter_targets %v", i, n)
		}
	}
}

// testConditionsAndFQDN: unset conditions read as the API defines them;
// an FQDN EndpointSlice is probed by name.
func (k *kubeEnv) testConditionsAndFQDN(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "cond")
	serveOn(t, "192.0.2.41:80", nil)
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("cond").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "unset", Labels: map[string]string{discoveryv1.LabelServiceName: "unset"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.41"}}},
	}, metav1.CreateOptions{}))
	serveOn(t, "192.0.2.42:5432", nil)
	port := int32(5432)
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("cond").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "external", Labels: map[string]string{discoveryv1.LabelServiceName: "external"}},
		AddressType: discoveryv1.AddressTypeFQDN,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"db.external.example"}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: cond
    kubernetes: {role: endpointslice, namespaces: [cond]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`)
	e.eventually(t, "unset conditions as ready/serving, not terminating; the FQDN endpoint probed", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"address": "192.0.2.41:80", "ready": "true", "serving": "true", "terminating": "false"}, 1)(mfs) &&
			stateIs(map[string]string{"address": fmt.Sprintf("db.external.example:%d", port), "service": "external"}, 1)(mfs)
	}, nil)
}

// testSyncedMeansDelivered: whenever probe_exporter_discovery_synced is 1,
// every target is scheduled.
func (k *kubeEnv) testSyncedMeansDelivered(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "many")
	const n = 300
	for i := 0; i < n; i++ {
		must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("many").Create(bg, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i), Labels: map[string]string{discoveryv1.LabelServiceName: fmt.Sprintf("s%d", i)}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("198.51.100.%d", i%250+1)}}, {Addresses: []string{fmt.Sprintf("203.0.113.%d", i%250+1)}}},
		}, metav1.CreateOptions{}))
	}
	e := k.exporter(t, `
targets:
  - name: many
    kubernetes: {role: endpointslice, namespaces: [many]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 300}
`)
	seenSynced := false
	e.eventually(t, "synced", func(mfs map[string]*dto.MetricFamily) bool { return seenSynced }, func(mfs map[string]*dto.MetricFamily) {
		synced, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "many"})
		targets, _ := value(mfs, "probe_exporter_targets", map[string]string{"target": "many"})
		if synced == 1 {
			seenSynced = true
			if targets != 2*n {
				t.Errorf("synced with %v of %d targets scheduled", targets, 2*n)
			}
		}
	})
}

// testReloadKeepsState: a reload that edits only the liveness probe's
// period keeps every target's readiness state and counters, and the
// watches; no scrape during it has a duplicate series.
func (k *kubeEnv) testReloadKeepsState(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "reload")
	serveOn(t, "192.0.2.51:80", nil)
	serveOn(t, "192.0.2.52:80", nil)
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("reload").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "r", Labels: map[string]string{discoveryv1.LabelServiceName: "r"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.51"}}, {Addresses: []string{"192.0.2.52"}}},
	}, metav1.CreateOptions{}))
	cfg := func(period int) string {
		return fmt.Sprintf(`
targets:
  - name: reload
    kubernetes: {role: endpointslice, namespaces: [reload]}
    readinessProbe: {httpGet: {path: /}, periodSeconds: 1}
    livenessProbe: {tcpSocket: {}, periodSeconds: %d}
`, period)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, cfg(10))
	e := start(t, "--config.file="+path, "--kubeconfig="+k.kubeconfig)
	readiness := func(addr string) map[string]string {
		return map[string]string{"target": "reload", "kind": "readiness", "address": addr, "result": "success"}
	}
	results := func(mfs map[string]*dto.MetricFamily) (a, b float64) {
		a, _ = value(mfs, "probe_results_total", readiness("192.0.2.51:80"))
		b, _ = value(mfs, "probe_results_total", readiness("192.0.2.52:80"))
		return a, b
	}
	e.eventually(t, "readiness results counted", func(mfs map[string]*dto.MetricFamily) bool {
		a, b := results(mfs)
		return a >= 2 && b >= 2
	}, nil)
	before := e.scrape(t)
	a0, b0 := results(before)
	informers, _ := value(before, "probe_exporter_kubernetes_discovery_informers", nil)
	events, _ := value(before, "probe_exporter_kubernetes_discovery_events_total", map[string]string{"resource": "endpointslices", "event": "add"})

	writeConfig(t, path, cfg(20))
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitLog(t, "configuration reloaded")
	// Every scrape from here on: counters never go back, transitions
	// stay where they were (no flap), and (as always) no duplicates.
	e.eventually(t, "readiness counters going on", func(mfs map[string]*dto.MetricFamily) bool {
		a, b := results(mfs)
		return a >= a0+2 && b >= b0+2
	}, func(mfs map[string]*dto.MetricFamily) {
		a, b := results(mfs)
		if a < a0 || b < b0 {
			t.Errorf("readiness counters reset by the reload: %v,%v -> %v,%v", a0, b0, a, b)
		}
		if n, _ := value(mfs, "probe_state_transitions_total", map[string]string{"target": "reload", "kind": "readiness", "address": "192.0.2.51:80"}); n != 1 {
			t.Errorf("readiness of 192.0.2.51 has %v transitions: it flapped or restarted", n)
		}
	})
	after := e.scrape(t)
	if v, _ := value(after, "probe_exporter_kubernetes_discovery_informers", nil); v != informers {
		t.Errorf("informers %v -> %v", informers, v)
	}
	if v, _ := value(after, "probe_exporter_kubernetes_discovery_events_total", map[string]string{"resource": "endpointslices", "event": "add"}); v != events {
		t.Errorf("the watches restarted: add events %v -> %v", events, v)
	}
	_ = os.Remove
}

// testPrometheusParity: relabel_configs see __address__ as Prometheus
// builds it for the service role, and attach_metadata adds node and
// namespace metadata under Prometheus' names.
func (k *kubeEnv) testPrometheusParity(t *testing.T) {
	c := k.c.Client
	must[*corev1.Namespace](t)(c.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "parity", Labels: map[string]string{"team": "payments"}}}, metav1.CreateOptions{}))
	must[*corev1.Node](t)(c.CoreV1().Nodes().Create(bg, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-parity", Labels: map[string]string{"topology.kubernetes.io/zone": "z9"}}}, metav1.CreateOptions{}))
	serveOn(t, "192.0.2.61:80", nil)
	runningPod(t, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "parity"},
		Spec:       corev1.PodSpec{NodeName: "node-parity", Containers: []corev1.Container{{Name: "app", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
	}, "192.0.2.61", map[string]string{"app": "containerd://p"})
	must[*corev1.Service](t)(c.CoreV1().Services("parity").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: pods
    kubernetes: {role: pod, namespaces: [parity], attach_metadata: {node: true, namespace: true}}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_node_label_topology_kubernetes_io_zone], target_label: node_zone}
      - {source_labels: [__meta_kubernetes_namespace_label_team], target_label: team}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
  - name: svc
    kubernetes: {role: service, namespaces: [parity]}
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.+)\.svc:(\d+)'
        target_label: prom_address
        replacement: '$1.svc:$2'
    readinessProbe: {tcpSocket: {}, periodSeconds: 60}
`)
	e.eventually(t, "node and namespace metadata attached; Prometheus' service __address__ matched", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"target": "pods", "pod": "p", "node_zone": "z9", "team": "payments"}, 1)(mfs) &&
			hasSeries(map[string]string{"target": "svc", "prom_address": "api.parity.svc:80", "address": "api.parity.svc.cluster.local:80"})(mfs)
	}, nil)
	if strings.Contains(e.log(), "permission denied") {
		t.Error("rbac.yaml lacks what attach_metadata needs")
	}
}

// testOnce: --once with a kubernetes entry waits until discovery has
// delivered everything (no endpoint is left out for being late) and
// answers for every endpoint.
func (k *kubeEnv) testOnce(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "bastion")
	var eps []discoveryv1.Endpoint
	for i := 60; i < 70; i++ {
		addr := fmt.Sprintf("192.0.2.%d", i)
		serveOn(t, addr+":8181", nil)
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	}
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("bastion").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "api-1", Labels: map[string]string{discoveryv1.LabelServiceName: "api"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8181)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints:   eps,
	}, metav1.CreateOptions{}))
	cfg := filepath.Join(t.TempDir(), "once.yaml")
	writeConfig(t, cfg, `
targets:
  - name: api
    kubernetes: {role: endpointslice, namespaces: [bastion]}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
`)
	stdout, stderr, code := runBinary(t, "--once", "--config.file="+cfg, "--kubeconfig="+k.kubeconfig, "--output=json", "--once.timeout=30s", "--log.level=warn")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var results []struct{ Target, Address, State string }
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(results) != len(eps) {
		t.Fatalf("%d answers for %d endpoints:\n%s", len(results), len(eps), stdout)
	}
	for _, r := range results {
		if r.State != "success" {
			t.Errorf("%s %s: %s", r.Target, r.Address, r.State)
		}
	}
}
