package main

import (
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestReadinessGate: with --kubernetes.readiness-gate, a pod that declares
// the gate gets its condition from the thresholded readiness state, on
// the real API server — True while it serves, False after
// failureThreshold failures, False for a port that refuses and an
// address that drops SYNs — written by the replica on its node only;
// a pod without the gate is never written.
func TestReadinessGate(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	admin := c.Client
	grant(t, admin, "probe-exporter-gate", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/status"}, Verbs: []string{"patch"}})

	namespace(t, admin, "shop")
	var healthy atomic.Bool
	healthy.Store(true)
	serveOn(t, "192.0.2.51:8080", &healthy)
	serveOn(t, "192.0.2.52:8080", nil)
	const gate = "probe-exporter.io/network-ready"
	pod := func(name, ip string, gated bool) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "web:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		}
		if gated {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
		}
		runningPod(t, admin, p, ip, nil)
	}
	pod("gated", "192.0.2.51", true)
	pod("plain", "192.0.2.52", false)
	// Gated pods the network can't reach: a port that refuses, and an
	// address that drops every SYN.
	hole, err := faults.Blackhole(t)
	if err != nil {
		t.Fatalf("no SYN black hole: %v", err)
	}
	pod("refusing", "192.0.2.53", true)
	pod("blackholed", hole, true)
	endpoint := func(ip, name string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr("node-a"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: name}}
	}
	must[*discoveryv1.EndpointSlice](t)(admin.DiscoveryV1().EndpointSlices("shop").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{endpoint("192.0.2.51", "gated"), endpoint("192.0.2.52", "plain"),
			endpoint("192.0.2.53", "refusing"), endpoint(hole, "blackholed")},
	}, metav1.CreateOptions{}))

	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(t, "exporter")}
	config := `
targets:
  - name: web
    kubernetes: {role: endpointslice, namespaces: [shop]}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 2}
`
	mine := env.exporter(t, config, "--kubernetes.readiness-gate", "--node-name=node-a")
	other := env.exporter(t, config, "--kubernetes.readiness-gate", "--node-name=node-b")

	condition := func(name string) *corev1.PodCondition {
		p := must[*corev1.Pod](t)(admin.CoreV1().Pods("shop").Get(bg, name, metav1.GetOptions{}))
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == gate {
				return &p.Status.Conditions[i]
			}
		}
		return nil
	}
	await.True(t, "the gate written True", func() bool { c := condition("gated"); return c != nil && c.Status == corev1.ConditionTrue })
	for name, why := range map[string]string{"refusing": "connect: connection refused", "blackholed": "Client.Timeout exceeded"} {
		await.True(t, name+"'s gate written False", func() bool { c := condition(name); return c != nil && c.Status == corev1.ConditionFalse })
		if c := condition(name); !strings.Contains(c.Message, why) {
			t.Errorf("%s: message %q, want it to say %q", name, c.Message, why)
		}
	}
	healthy.Store(false)
	await.True(t, "the gate written False", func() bool { c := condition("gated"); return c != nil && c.Status == corev1.ConditionFalse })
	cond := condition("gated")
	if cond.Reason != "ProbeFailed" || cond.Message != "Readiness probe failed from node-a: HTTP probe failed with statuscode: 500" {
		t.Errorf("condition %+v", cond)
	}
	mfs := mine.scrape(t)
	if v, _ := value(mfs, "probe_results_total", map[string]string{"target": "web", "address": "192.0.2.51:8080", "result": "failure"}); v < 2 {
		t.Errorf("False after %v failures, want failureThreshold 2", v)
	}
	if c := condition("plain"); c != nil {
		t.Errorf("a pod without the gate was written: %+v", c)
	}
	// The other node's replica probed the same pods and wrote nothing.
	omfs := other.scrape(t)
	if v, _ := value(omfs, "probe_exporter_readiness_gate_writes_total", map[string]string{"result": "written"}); v != 0 {
		t.Errorf("the other node's replica wrote %v conditions", v)
	}
	if v, _ := value(omfs, "probe_exporter_readiness_gate_writes_total", map[string]string{"result": "other_node"}); v == 0 {
		t.Error("the other node's replica saw no change to leave to node-a")
	}
	p := must[*corev1.Pod](t)(admin.CoreV1().Pods("shop").Get(bg, "gated", metav1.GetOptions{}))
	for _, mf := range p.ManagedFields {
		if mf.Subresource == "status" && mf.Manager != "probe-exporter" && mf.Manager != "probe-exporter.test" {
			t.Logf("status manager %s", mf.Manager)
		}
	}
	if v, _ := value(mfs, "probe_exporter_readiness_gate_oldest_unwritten_seconds", nil); v != 0 {
		t.Errorf("oldest unwritten %v s, want 0", v)
	}
	written, _ := value(mfs, "probe_exporter_readiness_gate_writes_total", map[string]string{"result": "written"})
	t.Logf("node-a wrote %v conditions for three gated pods (one of them changing twice)", written)
}
