package feedback

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/probe-exporter/probe-exporter/state"
)

// TestGateWrite: the condition is written for a gated pod on this node
// only, not again when the pod already says so, and its
// lastTransitionTime moves only with its status.
func TestGateWrite(t *testing.T) {
	gated := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec: corev1.PodSpec{NodeName: node, ReadinessGates: []corev1.PodReadinessGate{{ConditionType: DefaultGateCondition}}}}
	}
	client := fake.NewClientset(gated("a", "node-a"), gated("b", "node-b"),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "shop"}, Spec: corev1.PodSpec{NodeName: "node-a"}})
	g := NewGate(client, DefaultGateCondition, "node-a", "node-a", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	names := []string{"target", "kind", "address", "namespace", "pod"}
	at := time.Unix(1700000000, 0)
	change := func(pod string, to state.Value, when time.Time) string {
		tr := transition(names, []string{"web", "readiness", "10.0.0.1:80", "shop", pod}, to)
		tr.At = when
		return g.write(context.Background(), podKey{"shop", pod}, tr)
	}
	cond := func(pod string) *corev1.PodCondition {
		p, err := client.CoreV1().Pods("shop").Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == DefaultGateCondition {
				return &p.Status.Conditions[i]
			}
		}
		return nil
	}
	for _, c := range []struct {
		pod  string
		to   state.Value
		when time.Time
		want string
	}{
		{"a", state.Success, at, "written"},
		{"a", state.Success, at.Add(time.Minute), "unchanged"},
		{"b", state.Success, at, "other_node"},
		{"plain", state.Success, at, "not_gated"},
		{"gone", state.Success, at, "gone"},
		{"a", state.Failure, at.Add(2 * time.Minute), "written"},
	} {
		if got := change(c.pod, c.to, c.when); got != c.want {
			t.Errorf("%s -> %v: %s, want %s", c.pod, c.to, got, c.want)
		}
	}
	if c := cond("a"); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ProbeFailed" || !c.LastTransitionTime.Time.Equal(at.Add(2*time.Minute)) {
		t.Errorf("pod a: %+v", c)
	}
	if cond("b") != nil || cond("plain") != nil {
		t.Error("a pod that isn't this replica's, or has no gate, was written")
	}
}

// TestStalledAPIServer: an API server that accepts and never answers
// holds a gate write and an Event's lookup for apiTimeout, not longer.
func TestStalledAPIServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { apiTimeout = d }(apiTimeout)
	apiTimeout = 200 * time.Millisecond
	log := slog.New(slog.DiscardHandler)
	tr := transition([]string{"target", "kind", "address", "namespace", "pod"}, []string{"web", "readiness", "10.0.0.1:80", "shop", "web-1"}, state.Failure)

	start := time.Now()
	g := NewGate(client, DefaultGateCondition, "", "x", log, prometheus.NewRegistry())
	if got := g.write(context.Background(), podKey{"shop", "web-1"}, tr); got != "error" {
		t.Errorf("gate write against a stalled server: %s, want error", got)
	}
	e := NewEvents(client, "x", log, prometheus.NewRegistry())
	if ref := e.object(context.Background(), tr); ref != nil {
		t.Errorf("object from a stalled server: %+v", ref)
	}
	if took := time.Since(start); took > 2*apiTimeout+time.Second {
		t.Errorf("two calls took %v against a %v bound each", took, apiTimeout)
	}
}
