package feedback

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func transition(names []string, values []string, to state.Value) scheduler.Transition {
	return scheduler.Transition{Entry: values[0], Kind: probe.Readiness, Labels: series.New(series.NewNames(names), values),
		From: state.Success, To: to, Reason: "dial tcp 10.0.0.1:80: connect: connection refused"}
}

// TestObject: the object an Event regards comes from the probe's labels
// (a pod before a Service), with its UID from the API; none without a
// namespace, or when the object is gone.
func TestObject(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-pod"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u-svc"}},
	)
	e := NewEvents(client, "node-x", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	fixed := []string{"target", "kind", "address"}
	for _, c := range []struct {
		name         string
		names        []string
		values       []string
		kind, object string
	}{
		{"endpoint of a pod", append(fixed, "namespace", "pod", "service"), []string{"web", "readiness", "10.0.0.1:80", "shop", "web-1", "web"}, "Pod", "u-pod"},
		{"service role", append(fixed, "namespace", "service"), []string{"svc", "readiness", "10.96.0.1:80", "shop", "web"}, "Service", "u-svc"},
		{"static", fixed, []string{"static", "readiness", "10.0.0.1:80"}, "", ""},
		{"pod gone", append(fixed, "namespace", "pod"), []string{"web", "readiness", "10.0.0.2:80", "shop", "web-2"}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := e.object(context.Background(), transition(c.names, c.values, state.Failure))
			switch {
			case c.kind == "" && ref != nil:
				t.Errorf("regards %+v, want none", ref)
			case c.kind != "" && (ref == nil || ref.Kind != c.kind || string(ref.UID) != c.object || ref.Namespace != "shop"):
				t.Errorf("regards %+v, want %s %s", ref, c.kind, c.object)
			}
		})
	}
}

// TestObserveNeverBlocks: beyond the queue, changes are dropped and
// counted, and Observe returns at once.
func TestObserveNeverBlocks(t *testing.T) {
	e := NewEvents(fake.NewClientset(), "node-x", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	tr := transition([]string{"target", "kind", "address"}, []string{"static", "readiness", "h:1"}, state.Failure)
	for i := 0; i < queueSize+10; i++ {
		e.Observe(tr)
	}
	if n := testutil.ToFloat64(e.dropped); n != 10 {
		t.Errorf("dropped %v, want 10", n)
	}
}

// TestRunRecords: a change of a pod's probe becomes an Event on the pod,
// in the kubelet's words; Run stops with its context.
func TestRunRecords(t *testing.T) {
	client := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-pod"}})
	e := NewEvents(client, "node-x", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	e.Observe(transition([]string{"target", "kind", "address", "namespace", "pod"}, []string{"web", "readiness", "10.0.0.1:80", "shop", "web-1"}, state.Failure))
	var note string
	await.True(t, "an Event on the pod", func() bool {
		l, err := client.EventsV1().Events("shop").List(context.Background(), metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false
		}
		note = l.Items[0].Note
		return true
	})
	if want := "Readiness probe failed from node-x: dial tcp 10.0.0.1:80: connect: connection refused"; note != want {
		t.Errorf("note %q, want %q", note, want)
	}
	cancel()
	<-done
}
