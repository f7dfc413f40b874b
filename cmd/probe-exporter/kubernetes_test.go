package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	kubediscovery "github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

var meshPeers = kubediscovery.Peers

var bg = context.Background()

func ptr[T any](v T) *T { return &v }

// serveOn runs an HTTP server on a TEST-NET address of the namespace;
// healthy says whether /healthz answers 200.
func serveOn(t *testing.T, addr string, healthy *atomic.Bool) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy == nil || healthy.Load() {
			fmt.Fprintln(w, "ok")
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func namespace(t testing.TB, c kubernetes.Interface, name string) {
	t.Helper()
	must[*corev1.Namespace](t)(c.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}))
}

// runningPod creates a pod and sets its status as a kubelet would: IP,
// Ready, and running containers with IDs and start times.
func runningPod(t testing.TB, c kubernetes.Interface, pod *corev1.Pod, ip string, containerIDs map[string]string) *corev1.Pod {
	t.Helper()
	p := must[*corev1.Pod](t)(c.CoreV1().Pods(pod.Namespace).Create(bg, pod, metav1.CreateOptions{}))
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "192.0.2.200",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	for _, ctr := range pod.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ctr.Name, Image: ctr.Image, ContainerID: containerIDs[ctr.Name], Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		})
	}
	return must[*corev1.Pod](t)(c.CoreV1().Pods(pod.Namespace).UpdateStatus(bg, p, metav1.UpdateOptions{}))
}

type kubeEnv struct {
	c          *kubetest.Cluster
	kubeconfig string
}

func (k *kubeEnv) exporter(t testing.TB, config string, args ...string) *exporter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, config)
	return start(t, append([]string{"--config.file=" + path, "--kubeconfig=" + k.kubeconfig}, args...)...)
}

func stateOf(mfs map[string]*dto.MetricFamily, labels map[string]string) (float64, bool) {
	return value(mfs, "probe_state", labels)
}

func hasSeries(labels map[string]string) func(map[string]*dto.MetricFamily) bool {
	return func(mfs map[string]*dto.MetricFamily) bool { _, ok := stateOf(mfs, labels); return ok }
}

func stateIs(labels map[string]string, want float64) func(map[string]*dto.MetricFamily) bool {
	return func(mfs map[string]*dto.MetricFamily) bool { v, ok := stateOf(mfs, labels); return ok && v == want }
}

// TestKubernetes runs discovery against a real kube-apiserver and etcd,
// with the exporter as an unprivileged user bound by examples/kubernetes/
// rbac.yaml, and checks targets, labels and real probe results through
// /metrics.
func TestKubernetes(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(t, "exporter")}
	t.Run("endpointslice", env.testEndpointSlice)
	t.Run("relabel", env.testRelabel)
	t.Run("pod inheritProbes", env.testPodInheritProbes)
	t.Run("statefulset", env.testStatefulSet)
	t.Run("service", env.testService)
	t.Run("daemonset scopes", env.testScopes)
	t.Run("api server restart", env.testAPIServerRestart)
	t.Run("api server down at start", env.testAPIServerDownAtStart)
	t.Run("reload releases watches", env.testReloadReleasesWatches)
	t.Run("rbac denied", env.testRBACDenied)
	t.Run("address changes", env.testAddressChanges)
	t.Run("one probe per request", env.testOneProbePerRequest)
	t.Run("exact target counts", env.testExactTargetCount)
	t.Run("conditions and fqdn", env.testConditionsAndFQDN)
	t.Run("synced means delivered", env.testSyncedMeansDelivered)
	t.Run("reload keeps state", env.testReloadKeepsState)
	t.Run("prometheus parity", env.testPrometheusParity)
	t.Run("once", env.testOnce)
}

func (k *kubeEnv) testEndpointSlice(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "shop")
	var badHealthy atomic.Bool
	serveOn(t, "192.0.2.1:8080", nil)
	serveOn(t, "192.0.2.2:8080", nil)
	serveOn(t, "192.0.2.3:8080", &badHealthy) // answers 500

	must[*corev1.Service](t)(c.CoreV1().Services("shop").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			Selector: map[string]string{"app": "web"}},
	}, metav1.CreateOptions{}))
	runningPod(t, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}, "192.0.2.1", map[string]string{"app": "containerd://web-1-app"})
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web", "app": "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.1"}, NodeName: ptr("node-a"), Zone: ptr("zone-1"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1"}},
			{Addresses: []string{"192.0.2.2"}, NodeName: ptr("node-b"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(false), Terminating: ptr(false)}},
			{Addresses: []string{"192.0.2.3"}, NodeName: ptr("node-b"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}},
		},
	}
	slice = must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("shop").Create(bg, slice, metav1.CreateOptions{}))

	e := k.exporter(t, `
targets:
  - name: web
    kubernetes:
      role: endpointslice
      namespaces: [shop]
      labelSelector: app=web
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
      failureThreshold: 1
`)
	ready := map[string]string{"target": "web", "address": "192.0.2.1:8080", "namespace": "shop", "service": "web",
		"pod": "web-1", "node": "node-a", "zone": "zone-1", "ready": "true", "serving": "true", "terminating": "false"}
	notReady := map[string]string{"target": "web", "address": "192.0.2.2:8080", "ready": "false", "terminating": "false"}
	terminating := map[string]string{"target": "web", "address": "192.0.2.3:8080", "ready": "false", "terminating": "true"}
	e.eventually(t, "all three endpoints probed, not-ready and terminating included", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(ready, 1)(mfs) && stateIs(notReady, 1)(mfs) && stateIs(terminating, 0)(mfs)
	}, nil)
	// Synced may lag the first probes by a moment (the watches report
	// listed on their own goroutines): await it, don't sample it.
	e.eventually(t, "discovery synced", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "web"})
		return v == 1
	}, nil)

	// Churn: the terminating endpoint goes, the not-ready one turns ready,
	// a new one comes.
	serveOn(t, "192.0.2.4:8080", nil)
	before, _ := value(e.scrape(t), "probe_results_total", map[string]string{"address": "192.0.2.1:8080", "result": "success"})
	slice.Endpoints = append(slice.Endpoints[:2], discoveryv1.Endpoint{Addresses: []string{"192.0.2.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	slice.Endpoints[1].Conditions = discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}
	slice = must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("shop").Update(bg, slice, metav1.UpdateOptions{}))
	nowReady := map[string]string{"target": "web", "address": "192.0.2.2:8080", "ready": "true"}
	e.eventually(t, "the endpoint that turned ready relabelled, the terminating one gone, the new one probed", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(nowReady, 1)(mfs) && !hasSeries(notReady)(mfs) && !hasSeries(terminating)(mfs) &&
			stateIs(map[string]string{"target": "web", "address": "192.0.2.4:8080"}, 1)(mfs)
	}, nil)
	mfs := e.scrape(t)
	// Untouched and relabelled targets kept their state: counters went on.
	if after, _ := value(mfs, "probe_results_total", map[string]string{"address": "192.0.2.1:8080", "result": "success"}); after < before {
		t.Errorf("192.0.2.1 lost its state: successes %v -> %v", before, after)
	}
	if n, _ := value(mfs, "probe_state_transitions_total", nowReady); n != 1 {
		t.Errorf("192.0.2.2 was reset by its label change: %v transitions", n)
	}

	// The Service and its slice go: every series goes.
	if err := c.DiscoveryV1().EndpointSlices("shop").Delete(bg, slice.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Services("shop").Delete(bg, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "no series left for the deleted slice", func(mfs map[string]*dto.MetricFamily) bool {
		return !hasSeries(map[string]string{"target": "web"})(mfs)
	}, nil)
}

// testRelabel: relabel_configs written for Prometheus' kubernetes_sd work
// unchanged on the same meta labels.
func (k *kubeEnv) testRelabel(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "relabel")
	serveOn(t, "192.0.2.1:9100", nil)
	serveOn(t, "192.0.2.2:9100", nil)
	must[*corev1.Service](t)(c.CoreV1().Services("relabel").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics", Labels: map[string]string{"team": "core"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "m", Port: 9100}}},
	}, metav1.CreateOptions{}))
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("relabel").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "metrics-1", Labels: map[string]string{discoveryv1.LabelServiceName: "metrics"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("m"), Port: ptr(int32(9100))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"192.0.2.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: relabeled
    kubernetes: {role: endpointslice, namespaces: [relabel]}
    relabel_configs:
      - source_labels: [__meta_kubernetes_endpointslice_endpoint_conditions_ready]
        regex: "true"
        action: keep
      - action: labelmap
        regex: __meta_kubernetes_service_label_(.+)
      - source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_service_name]
        separator: /
        target_label: job
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`)
	e.eventually(t, "only the ready endpoint, with mapped labels", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"target": "relabeled", "address": "192.0.2.1:9100", "team": "core", "job": "relabel/metrics"}, 1)(mfs)
	}, nil)
	if hasSeries(map[string]string{"target": "relabeled", "address": "192.0.2.2:9100"})(e.scrape(t)) {
		t.Error("the not-ready endpoint was kept")
	}

	// A change of the Service alone reaches its slices' targets.
	svc := must[*corev1.Service](t)(c.CoreV1().Services("relabel").Get(bg, "metrics", metav1.GetOptions{}))
	svc.Labels["team"] = "edge"
	must[*corev1.Service](t)(c.CoreV1().Services("relabel").Update(bg, svc, metav1.UpdateOptions{}))
	e.eventually(t, "the Service's new label on its endpoints' series", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(map[string]string{"target": "relabeled", "address": "192.0.2.1:9100", "team": "edge"}, 1)(mfs) &&
			!hasSeries(map[string]string{"target": "relabeled", "team": "core"})(mfs)
	}, nil)
}

func (k *kubeEnv) testPodInheritProbes(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "pods")
	serveOn(t, "192.0.2.4:8081", nil)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-1", Namespace: "pods"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{
			{Name: "api", Image: "api:1", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8081}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("web")}},
					PeriodSeconds: 1},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8081)}},
					PeriodSeconds: 1, InitialDelaySeconds: 1}},
			{Name: "sidecar", Image: "sidecar:1",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}},
		}},
	}
	p := runningPod(t, c, pod, "192.0.2.4", map[string]string{"api": "containerd://one", "sidecar": "containerd://side"})

	e := k.exporter(t, `
targets:
  - name: pods
    kubernetes: {role: pod, namespaces: [pods], inheritProbes: true}
`)
	readiness := map[string]string{"target": "pods", "kind": "readiness", "namespace": "pods", "pod": "api-1", "container": "api", "address": "192.0.2.4:8081"}
	liveness := map[string]string{"target": "pods", "kind": "liveness", "pod": "api-1", "container": "api", "address": "192.0.2.4:8081"}
	e.eventually(t, "the container's own probes run from the network, named port resolved", func(mfs map[string]*dto.MetricFamily) bool {
		succ, _ := value(mfs, "probe_results_total", map[string]string{"kind": "readiness", "pod": "api-1", "result": "success"})
		return stateIs(readiness, 1)(mfs) && stateIs(liveness, 1)(mfs) && succ >= 3
	}, nil)
	mfs := e.scrape(t)
	if v, _ := value(mfs, "probe_exporter_discovery_skipped", map[string]string{"target": "pods", "reason": "exec_probe"}); v != 1 {
		t.Errorf("the sidecar's exec probe should show as skipped, got %v", v)
	}
	if _, ok := value(mfs, "probe_state", map[string]string{"container": "sidecar"}); ok {
		t.Error("an exec probe of a pod was run")
	}

	// The container restarts: new ID. Its probes start again from the
	// initial values (readiness Failure, fresh counters).
	p.Status.ContainerStatuses[0].ContainerID = "containerd://two"
	p.Status.ContainerStatuses[0].RestartCount = 1
	p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.Now()
	must[*corev1.Pod](t)(c.CoreV1().Pods("pods").UpdateStatus(bg, p, metav1.UpdateOptions{}))
	e.eventually(t, "state reset by the restart", func(mfs map[string]*dto.MetricFamily) bool {
		succ, ok := value(mfs, "probe_results_total", map[string]string{"kind": "readiness", "pod": "api-1", "result": "success"})
		return ok && succ < 3
	}, nil)

	// The pod goes: its series go.
	if err := c.CoreV1().Pods("pods").Delete(bg, "api-1", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "no series for the deleted pod", func(mfs map[string]*dto.MetricFamily) bool {
		return !hasSeries(map[string]string{"pod": "api-1"})(mfs)
	}, nil)
}

func (k *kubeEnv) testStatefulSet(t *testing.T) {
	c := k.c.Client
	serveOn(t, "192.0.2.5:5432", nil) // db-0 resolves here (kubetest.TestHosts); db-1 resolves nowhere
	must[*appsv1.StatefulSet](t)(c.AppsV1().StatefulSets("shop").Create(bg, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{ServiceName: "db", Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: databases
    kubernetes: {role: statefulset, namespaces: [shop]}
    readinessProbe:
      tcpSocket: {port: 5432}
      periodSeconds: 1
      failureThreshold: 1
`)
	db0 := map[string]string{"target": "databases", "address": "db-0.db.shop.svc.cluster.local:5432", "statefulset": "db", "pod": "db-0"}
	db1 := map[string]string{"target": "databases", "address": "db-1.db.shop.svc.cluster.local:5432", "pod": "db-1"}
	e.eventually(t, "db-0 up through its DNS name, db-1 a red target (does not resolve)", func(mfs map[string]*dto.MetricFamily) bool {
		fails, _ := value(mfs, "probe_results_total", map[string]string{"pod": "db-1", "result": "failure"})
		return stateIs(db0, 1)(mfs) && stateIs(db1, 0)(mfs) && fails >= 1
	}, nil)
	// The namespace has no DNS server: the lookup itself fails.
	e.waitLog(t, "lookup db-1.db.shop.svc.cluster.local")
}

func (k *kubeEnv) testService(t *testing.T) {
	c := k.c.Client
	serveOn(t, "192.0.2.9:8080", nil) // web.shop.svc.cluster.local (kubetest.TestHosts)
	must[*corev1.Service](t)(c.CoreV1().Services("shop").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}, metav1.CreateOptions{}))
	must[*corev1.Service](t)(c.CoreV1().Services("shop").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "headless"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: svc_dns
    kubernetes: {role: service, namespaces: [shop], fieldSelector: metadata.name=web}
    readinessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 1
  - name: svc_ip
    kubernetes: {role: service, namespaces: [shop], address: clusterIP}
    readinessProbe:
      tcpSocket: {}
`)
	e.eventually(t, "the service probed at its DNS name; the headless one skipped, not probed at None", func(mfs map[string]*dto.MetricFamily) bool {
		skipped, _ := value(mfs, "probe_exporter_discovery_skipped", map[string]string{"target": "svc_ip", "reason": "headless_service"})
		return stateIs(map[string]string{"target": "svc_dns", "address": "web.shop.svc.cluster.local:8080", "service": "web"}, 1)(mfs) &&
			hasSeries(map[string]string{"target": "svc_ip", "service": "web"})(mfs) && skipped == 1
	}, nil)
	if _, ok := stateOf(e.scrape(t), map[string]string{"target": "svc_ip", "service": "headless"}); ok {
		t.Error("a headless service was probed at its ClusterIP")
	}
}

// testScopes runs two DaemonSet replicas, on node-a and node-b, over
// endpoints on three nodes.
func (k *kubeEnv) testScopes(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "mesh")
	for _, a := range []string{"192.0.2.6:80", "192.0.2.7:80", "192.0.2.8:80"} {
		serveOn(t, a, nil)
	}
	ep := func(addr, node string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{addr}, NodeName: ptr(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}
	}
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("mesh").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "peers", Labels: map[string]string{discoveryv1.LabelServiceName: "peers"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}},
		Endpoints:   []discoveryv1.Endpoint{ep("192.0.2.6", "node-a"), ep("192.0.2.7", "node-b"), ep("192.0.2.8", "node-c")},
	}, metav1.CreateOptions{}))
	config := func(scope string) string {
		extra := ""
		if scope == "mesh" {
			extra = ", meshPeers: 1"
		}
		return fmt.Sprintf(`
targets:
  - name: peers
    kubernetes: {role: endpointslice, namespaces: [mesh], scope: %s%s}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`, scope, extra)
	}
	addresses := func(e *exporter) map[string]string {
		out := map[string]string{}
		for _, m := range e.scrape(t)["probe_state"].GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			if ls["target"] == "peers" {
				out[ls["address"]] = ls["source_node"]
			}
		}
		return out
	}
	nodeA := k.exporter(t, config("node"), "--node-name=node-a")
	nodeA.eventually(t, "scope node: only node-a's endpoint", func(map[string]*dto.MetricFamily) bool {
		a := addresses(nodeA)
		return len(a) == 1 && a["192.0.2.6:80"] == "node-a"
	}, nil)

	// scope mesh with one peer: its own endpoint plus the one node that
	// rendezvous hashing picks for node-b.
	peers := meshPeers("node-b", []string{"node-a", "node-b", "node-c"}, 1)
	want := map[string]string{"192.0.2.7:80": "node-b"}
	for n, addr := range map[string]string{"node-a": "192.0.2.6:80", "node-c": "192.0.2.8:80"} {
		if peers[n] {
			want[addr] = "node-b"
		}
	}
	nodeB := k.exporter(t, config("mesh"), "--node-name=node-b")
	nodeB.eventually(t, fmt.Sprintf("scope mesh: %v", want), func(map[string]*dto.MetricFamily) bool {
		a := addresses(nodeB)
		if len(a) != len(want) {
			return false
		}
		for k, v := range want {
			if a[k] != v {
				return false
			}
		}
		return true
	}, nil)

	// Two shards split the same targets: every endpoint in exactly one.
	sharded := func(i int) *exporter {
		return k.exporter(t, config("cluster"), "--total-shards=2", fmt.Sprintf("--shard=%d", i))
	}
	s0, s1 := sharded(0), sharded(1)
	s0.eventually(t, "the two shards together probe all three endpoints, each once", func(map[string]*dto.MetricFamily) bool {
		a, b := addresses(s0), addresses(s1)
		for addr := range a {
			if _, dup := b[addr]; dup {
				return false
			}
		}
		return len(a)+len(b) == 3
	}, nil)

	// Without a node name, scope node can't start: a clear error.
	out, err := runOnce(t, config("node"), k.kubeconfig)
	if err == nil || !strings.Contains(out, "--node-name or $NODE_NAME") {
		t.Errorf("scope node without a node name: %v\n%s", err, out)
	}
}

func (k *kubeEnv) testAPIServerRestart(t *testing.T) {
	c := k.c.Client
	namespace(t, c, "restart")
	serveOn(t, "192.0.2.10:80", nil)
	slice := must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("restart").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "s", Labels: map[string]string{discoveryv1.LabelServiceName: "s"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr(int32(80))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}}},
	}, metav1.CreateOptions{}))
	e := k.exporter(t, `
targets:
  - name: restart
    kubernetes: {role: endpointslice, namespaces: [restart]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`)
	target := map[string]string{"target": "restart", "address": "192.0.2.10:80"}
	synced := func(want float64) func(map[string]*dto.MetricFamily) bool {
		return func(mfs map[string]*dto.MetricFamily) bool {
			v, ok := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "restart"})
			return ok && v == want
		}
	}
	e.eventually(t, "probing and synced", func(mfs map[string]*dto.MetricFamily) bool { return stateIs(target, 1)(mfs) && synced(1)(mfs) }, nil)
	lists := func(mfs map[string]*dto.MetricFamily) float64 {
		v, _ := value(mfs, "probe_exporter_kubernetes_discovery_lists_total", map[string]string{"resource": "endpointslices"})
		return v
	}
	listsBefore := lists(e.scrape(t))
	// Writes while the exporter watches move the API server's revision on:
	// a restarted API server's watch cache starts past the informer's
	// resourceVersion, so its watch expires (410 Gone) and it relists.
	namespace(t, c, "restart-churn")

	k.c.StopAPIServer(t)
	restarted := false
	defer func() {
		if !restarted {
			k.c.StartAPIServer(t) // the other tests need it
		}
	}()
	e.eventually(t, "discovery says it is not synced, last targets kept", func(mfs map[string]*dto.MetricFamily) bool {
		return synced(0)(mfs) && stateIs(target, 1)(mfs)
	}, nil)
	e.waitLog(t, "API server unreachable")
	warnings := strings.Count(e.log(), "API server unreachable")
	k.c.StartAPIServer(t)
	restarted = true
	back := time.Now()
	// Synced only once the relist is done: from then on every scrape that
	// says synced has the relisted target.
	e.eventually(t, "relisted and synced again", func(mfs map[string]*dto.MetricFamily) bool {
		return synced(1)(mfs) && lists(mfs) > listsBefore
	}, func(mfs map[string]*dto.MetricFamily) {
		if synced(1)(mfs) && !hasSeries(target)(mfs) {
			t.Error("synced without the target")
		}
	})
	t.Logf("discovery synced again %v after the API server was started", time.Since(back).Round(10*time.Millisecond))
	if warnings != 1 {
		t.Errorf("%d warnings while the API server was down: want one per state change, not a storm", warnings)
	}
	e.waitLog(t, "API server reachable again")
	// A change made after the restart arrives.
	slice.Endpoints = nil
	must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("restart").Update(bg, slice, metav1.UpdateOptions{}))
	e.eventually(t, "a change after the restart arrives", func(mfs map[string]*dto.MetricFamily) bool { return !hasSeries(target)(mfs) }, nil)
}

// testAPIServerDownAtStart: the exporter starts and serves without its
// API server, says so, and finds its targets once the server is up.
func (k *kubeEnv) testAPIServerDownAtStart(t *testing.T) {
	k.c.StopAPIServer(t)
	up := false
	defer func() {
		if !up {
			k.c.StartAPIServer(t)
		}
	}()
	e := k.exporter(t, `
targets:
  - name: late
    kubernetes: {role: endpointslice, namespaces: [restart, mesh]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`)
	e.eventually(t, "serving /metrics and saying discovery is not synced", func(mfs map[string]*dto.MetricFamily) bool {
		v, ok := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "late"})
		return ok && v == 0
	}, nil)
	e.waitLog(t, "API server unreachable")
	k.c.StartAPIServer(t)
	up = true
	e.eventually(t, "targets found once the API server is up", func(mfs map[string]*dto.MetricFamily) bool {
		synced, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "late"})
		return synced == 1 && hasSeries(map[string]string{"target": "late", "address": "192.0.2.6:80"})(mfs)
	}, nil)
}

// testReloadReleasesWatches: a reload that drops a kubernetes entry stops
// its watches and removes its targets; bringing it back starts them again.
func (k *kubeEnv) testReloadReleasesWatches(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	kube := `
targets:
  - name: watched
    kubernetes: {role: endpointslice, namespaces: [mesh]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
`
	static := "targets:\n  - name: only_static\n    static: [{host: 127.0.0.1}]\n    livenessProbe: {tcpSocket: {port: 1}}\n"
	writeConfig(t, path, kube)
	e := start(t, "--config.file="+path, "--kubeconfig="+k.kubeconfig, "--web.enable-lifecycle")
	informers := func(want float64) func(map[string]*dto.MetricFamily) bool {
		return func(mfs map[string]*dto.MetricFamily) bool {
			v, _ := value(mfs, "probe_exporter_kubernetes_discovery_informers", nil)
			return v == want
		}
	}
	e.eventually(t, "three watches (endpointslices, services, pods) and targets", func(mfs map[string]*dto.MetricFamily) bool {
		return informers(3)(mfs) && hasSeries(map[string]string{"target": "watched"})(mfs)
	}, nil)
	reload := func() {
		res, err := http.Post(e.url+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("reload: %d", res.StatusCode)
		}
	}
	writeConfig(t, path, static)
	reload()
	e.eventually(t, "no watches and no targets of the dropped entry", func(mfs map[string]*dto.MetricFamily) bool {
		_, synced := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "watched"})
		return informers(0)(mfs) && !synced && !hasSeries(map[string]string{"target": "watched"})(mfs)
	}, nil)
	writeConfig(t, path, kube)
	reload()
	e.eventually(t, "the entry back", func(mfs map[string]*dto.MetricFamily) bool {
		return informers(3)(mfs) && hasSeries(map[string]string{"target": "watched"})(mfs)
	}, nil)
}

func (k *kubeEnv) testRBACDenied(t *testing.T) {
	c := k.c.Client
	if err := c.RbacV1().ClusterRoleBindings().Delete(bg, "probe-exporter", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	defer k.c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	e := k.exporter(t, `
targets:
  - name: denied
    kubernetes: {role: pod}
    readinessProbe: {tcpSocket: {port: 80}}
`)
	e.eventually(t, "forbidden errors counted", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_kubernetes_discovery_errors_total", map[string]string{"resource": "pods", "reason": "forbidden"})
		return v > 0
	}, nil)
	log := e.log()
	// client-go starts with a streaming list (a watch): either verb is right.
	if !strings.Contains(log, "permission denied") || !regexp.MustCompile(`cannot (list|watch) resource \\"pods\\"`).MatchString(log) {
		t.Errorf("the log should name the missing verb and resource:\n%s", log)
	}
	if v, _ := value(e.scrape(t), "probe_exporter_discovery_synced", map[string]string{"target": "denied"}); v != 0 {
		t.Errorf("synced %v while forbidden", v)
	}
}

// runOnce runs the binary with a config until it exits or 10 s pass.
func runOnce(t *testing.T, config, kubeconfig string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, config)
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--config.file="+path, "--kubeconfig="+kubeconfig, "--web.listen-address=127.0.0.1:0").CombinedOutput()
	return string(out), err
}

var _ = os.Getenv
