package main

import (
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestKubernetesEvents: with --kubernetes.events, a probe's thresholded
// changes become Events on the pod behind its endpoint, on the real API
// server, as the kubelet words its own: Normal Healthy when it passes,
// Warning Unhealthy with the reason when it fails; a flapping target is
// one Event per kind of change, not one per change.
func TestKubernetesEvents(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	admin := c.Client
	// What the events need beyond discovery's read-only rules (the
	// chart's events value grants the same).
	grant(t, admin, "probe-exporter-events",
		rbacv1.PolicyRule{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"get"}})

	namespace(t, admin, "shop")
	var healthy atomic.Bool
	healthy.Store(true)
	serveOn(t, "192.0.2.41:8080", &healthy)
	pod := runningPod(t, admin, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}, "192.0.2.41", nil)
	must[*discoveryv1.EndpointSlice](t)(admin.DiscoveryV1().EndpointSlices("shop").Create(bg, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.41"}, NodeName: ptr("node-a"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1"}}},
	}, metav1.CreateOptions{}))

	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(t, "exporter")}
	e := env.exporter(t, `
targets:
  - name: web
    kubernetes: {role: endpointslice, namespaces: [shop]}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 1}
`, "--kubernetes.events", "--node-name=node-x")

	events := func() []eventsv1.Event {
		l := must[*eventsv1.EventList](t)(admin.EventsV1().Events("shop").List(bg, metav1.ListOptions{}))
		return l.Items
	}
	find := func(reason string) []eventsv1.Event {
		var out []eventsv1.Event
		for _, ev := range events() {
			if ev.Reason == reason {
				out = append(out, ev)
			}
		}
		return out
	}
	await.True(t, "a Normal Healthy event on the pod", func() bool { return len(find("Healthy")) > 0 })
	healthy.Store(false)
	await.True(t, "a Warning Unhealthy event on the pod", func() bool { return len(find("Unhealthy")) > 0 })
	ev := find("Unhealthy")[0]
	want := "Readiness probe failed from node-x: HTTP probe failed with statuscode: 500"
	if ev.Type != corev1.EventTypeWarning || ev.Note != want || ev.Action != "Probe" ||
		ev.Regarding.Kind != "Pod" || ev.Regarding.Name != "web-1" || ev.Regarding.UID != pod.UID ||
		ev.ReportingController != "probe-exporter" {
		t.Errorf("event %s/%s %q regarding %+v from %s; want Warning Unhealthy %q on pod web-1 (uid %s) from probe-exporter",
			ev.Type, ev.Reason, ev.Note, ev.Regarding, ev.ReportingController, want, pod.UID)
	}
	if h := find("Healthy")[0]; h.Type != corev1.EventTypeNormal || h.Note != "Readiness probe succeeded from node-x" {
		t.Errorf("recovery event %s %q", h.Type, h.Note)
	}
	t.Logf("kubectl get events would show: %s  %s  pod/%s  %s", ev.Type, ev.Reason, ev.Regarding.Name, ev.Note)

	// Flapping: each change is counted, the Events stay one per kind.
	transitions := func() float64 {
		v, _ := value(e.scrape(t), "probe_state_transitions_total", map[string]string{"target": "web"})
		return v
	}
	for i := 0; i < 4; i++ {
		before := transitions()
		healthy.Store(!healthy.Load())
		await.True(t, "the state to change", func() bool { return transitions() > before })
	}
	mfs := e.scrape(t)
	changes, _ := value(mfs, "probe_state_transitions_total", map[string]string{"target": "web"})
	recorded, _ := value(mfs, "probe_exporter_events_total", map[string]string{"result": "recorded"})
	if n, m := len(find("Unhealthy")), len(find("Healthy")); n != 1 || m != 1 || changes < 5 || recorded < changes {
		t.Errorf("after %v changes (%v recorded): %d Unhealthy and %d Healthy Events, want one of each", changes, recorded, n, m)
	}
	for _, ev := range events() {
		// The repeats are counted on the one Event, as a series.
		if ev.Series == nil || ev.Series.Count < 2 {
			t.Errorf("%s %s: series %+v, want the repeats counted", ev.Type, ev.Reason, ev.Series)
		}
		if !strings.HasPrefix(ev.Note, "Readiness probe") {
			t.Errorf("unexpected event %q", ev.Note)
		}
	}
}

// grant gives the exporter's ServiceAccount rules beyond discovery's
// read-only ones (what the chart's feedback values grant).
func grant(t testing.TB, admin kubernetes.Interface, name string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	must[*rbacv1.ClusterRole](t)(admin.RbacV1().ClusterRoles().Create(bg, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}))
	must[*rbacv1.ClusterRoleBinding](t)(admin.RbacV1().ClusterRoleBindings().Create(bg, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: kubetest.ExporterNamespace, Name: "probe-exporter"}},
	}, metav1.CreateOptions{}))
}
