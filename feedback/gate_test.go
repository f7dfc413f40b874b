package feedback

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/probe-exporter/probe-exporter/internal/await"
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

// TestGateCoalesces: changes are never dropped, however many arrive at
// once (a pod left unwritten would stay unready); a pod that changes
// again before its write goes out is written once, with its latest
// state; a mesh target on another node is settled without asking the
// API server.
func TestGateCoalesces(t *testing.T) {
	const pods = 3000 // more than the 1024 changes a queue held before
	var objs []runtime.Object
	for i := 0; i < pods; i++ {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "shop"},
			Spec: corev1.PodSpec{NodeName: "node-a", ReadinessGates: []corev1.PodReadinessGate{{ConditionType: DefaultGateCondition}}}})
	}
	client := fake.NewClientset(objs...)
	// The writes are recorded here: the fake's own apply rebuilds a REST
	// mapper each time (≈6 ms under the race detector).
	var mu sync.Mutex
	applied := map[string]string{}
	client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		mu.Lock()
		defer mu.Unlock()
		applied[pa.GetName()] = string(pa.GetPatch())
		return true, &corev1.Pod{}, nil
	})
	g := NewGate(client, DefaultGateCondition, "node-a", "node-a", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	names := []string{"target", "kind", "address", "namespace", "pod"}
	at := time.Now()
	for i := 0; i < pods; i++ {
		tr := transition(names, []string{"web", "readiness", "10.0.0.1:80", "shop", fmt.Sprintf("web-%d", i)}, state.Failure)
		tr.At = at
		g.Observe(tr)
	}
	recovered := transition(names, []string{"web", "readiness", "10.0.0.1:80", "shop", "web-0"}, state.Success)
	recovered.At = at.Add(time.Second)
	g.Observe(recovered)
	mesh := transition([]string{"target", "kind", "address", "namespace", "pod", "node"}, []string{"web", "readiness", "10.0.0.2:80", "shop", "web-x", "node-b"}, state.Failure)
	g.Observe(mesh)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	count := func(result string) float64 { return testutil.ToFloat64(g.writes.WithLabelValues(result)) }
	await.True(t, "every pod written", func() bool { return count("written") == pods })
	if got := count("superseded"); got != 1 {
		t.Errorf("superseded %v, want 1 (web-0 recovered before its write)", got)
	}
	if got := count("other_node"); got != 1 {
		t.Errorf("other_node %v, want 1", got)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.(interface{ GetName() string }).GetName() == "web-x" {
			t.Error("the API server was asked about another node's pod")
		}
	}
	mu.Lock()
	if got := applied["web-0"]; !strings.Contains(got, `"status":"True"`) {
		t.Errorf("web-0's write %s, want its latest state, True", got)
	}
	mu.Unlock()
	if age := g.oldestAge(); age != 0 {
		t.Errorf("oldest unwritten %v s after all were written", age)
	}
}
