package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

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

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func namespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	must[*corev1.Namespace](t)(c.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}))
}

// runningPod creates a pod and sets its status as a kubelet would: IP,
// Ready, and running containers with IDs and start times.
func runningPod(t *testing.T, c kubernetes.Interface, pod *corev1.Pod, ip string, containerIDs map[string]string) *corev1.Pod {
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

func (k *kubeEnv) exporter(t *testing.T, config string, args ...string) *exporter {
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
	if v, _ := value(e.scrape(t), "probe_exporter_discovery_synced", map[string]string{"target": "web"}); v != 1 {
		t.Errorf("discovery_synced %v", v)
	}

	// Churn: the terminating endpoint goes, the not-ready one turns ready.
	before, _ := value(e.scrape(t), "probe_results_total", map[string]string{"address": "192.0.2.1:8080", "result": "success"})
	slice.Endpoints = slice.Endpoints[:2]
	slice.Endpoints[1].Conditions = discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}
	slice = must[*discoveryv1.EndpointSlice](t)(c.DiscoveryV1().EndpointSlices("shop").Update(bg, slice, metav1.UpdateOptions{}))
	nowReady := map[string]string{"target": "web", "address": "192.0.2.2:8080", "ready": "true"}
	e.eventually(t, "the endpoint that turned ready relabelled, the terminating one gone", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(nowReady, 1)(mfs) && !hasSeries(notReady)(mfs) && !hasSeries(terminating)(mfs)
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

var _ = os.Getenv
var _ = strings.Contains
var _ = time.Second
