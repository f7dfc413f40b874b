package feedback

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/state"
)

// DefaultGateCondition is the pod condition a readiness gate names for
// the network's verdict.
const DefaultGateCondition = "probe-exporter.io/network-ready"

// fieldManager owns the one condition the gate writes (server-side
// apply), and nothing else of the pod.
const fieldManager = "probe-exporter"

// Gate writes the thresholded state of a pod's network readiness probe
// into the pod's status, as the condition its readinessGates name, so
// that the pod is Ready only while the network reaches it. Pods that
// don't declare the gate are never written. With a node name (DaemonSet
// mode) it writes only pods on its own node: every node may probe a pod
// (mesh), one writes it. Without one, the shard that owns the target is
// the only one probing it.
type Gate struct {
	client    kubernetes.Interface
	condition string
	node      string
	source    string
	log       *slog.Logger
	queue     chan scheduler.Transition

	mu sync.Mutex
	// unwritten are the latest changes not written yet, by pod: a write
	// that fails is tried again every retryEvery; the oldest's age is a
	// metric (and an alert).
	unwritten map[podKey]scheduler.Transition

	dropped prometheus.Counter
	writes  *prometheus.CounterVec
	oldest  prometheus.GaugeFunc
}

// NewGate makes a Gate writing condition; node is this exporter's node
// ("" unless DaemonSet mode).
func NewGate(client kubernetes.Interface, condition, node, source string, log *slog.Logger, reg prometheus.Registerer) *Gate {
	g := &Gate{client: client, condition: condition, node: node, source: source, log: log, queue: make(chan scheduler.Transition, queueSize),
		unwritten: map[podKey]scheduler.Transition{},
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "probe_exporter_readiness_gate_dropped_total",
			Help: "Readiness state changes not written to pods' readiness gates because too many were waiting.",
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_readiness_gate_writes_total",
			Help: "Readiness gate conditions: written, unchanged (already so), not_gated (the pod declares no gate), other_node (another node's replica writes it), gone (no such pod), error.",
		}, []string{"result"}),
	}
	g.oldest = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "probe_exporter_readiness_gate_oldest_unwritten_seconds",
		Help: "Age of the oldest readiness state change not yet written to its pod's gate (0: none waiting).",
	}, g.oldestAge)
	reg.MustRegister(g.dropped, g.writes, g.oldest)
	return g
}

// Observe is a scheduler.Options.OnTransition: readiness changes of pods
// are queued, never waited on.
func (g *Gate) Observe(t scheduler.Transition) {
	if t.Kind != probe.Readiness {
		return
	}
	select {
	case g.queue <- t:
	default:
		g.dropped.Inc()
	}
}

type podKey struct{ namespace, name string }

// retryEvery is how often writes that failed are tried again.
const retryEvery = 5 * time.Second

func (g *Gate) oldestAge() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var oldest time.Time
	for _, t := range g.unwritten {
		if oldest.IsZero() || t.At.Before(oldest) {
			oldest = t.At
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest).Seconds()
}

// Run writes what Observe queued, and retries what failed, until ctx
// ends.
func (g *Gate) Run(ctx context.Context) {
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-g.queue:
			ns, name, _ := objectOf(t)
			if ns == "" || name == "" {
				g.writes.WithLabelValues("not_gated").Inc()
				continue
			}
			g.mu.Lock()
			g.unwritten[podKey{ns, name}] = t
			g.mu.Unlock()
			g.try(ctx, podKey{ns, name}, t)
		case <-retry.C:
			g.mu.Lock()
			todo := make(map[podKey]scheduler.Transition, len(g.unwritten))
			for k, t := range g.unwritten {
				todo[k] = t
			}
			g.mu.Unlock()
			for k, t := range todo {
				g.try(ctx, k, t)
			}
		}
	}
}

// try writes t for pod k; anything but an error settles it.
func (g *Gate) try(ctx context.Context, k podKey, t scheduler.Transition) {
	result := g.write(ctx, k, t)
	g.writes.WithLabelValues(result).Inc()
	if result == "error" {
		return
	}
	g.mu.Lock()
	if cur, ok := g.unwritten[k]; ok && cur.At.Equal(t.At) {
		delete(g.unwritten, k)
	}
	g.mu.Unlock()
}

// write applies the condition for t's pod, if it declares the gate and
// is this replica's to write; it returns the writes_total result.
func (g *Gate) write(ctx context.Context, k podKey, t scheduler.Transition) string {
	ns, name := k.namespace, k.name
	ctx, cancel := context.WithTimeout(ctx, apiTimeout) // a stalled API server costs this write only
	defer cancel()
	pod, err := g.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "gone"
	case err != nil:
		g.log.Warn("readiness gate: reading the pod failed", "namespace", ns, "pod", name, "err", err)
		return "error"
	}
	gated := false
	for _, rg := range pod.Spec.ReadinessGates {
		gated = gated || string(rg.ConditionType) == g.condition
	}
	switch {
	case !gated:
		return "not_gated"
	case g.node != "" && pod.Spec.NodeName != g.node:
		return "other_node"
	}
	status, reason, message := corev1.ConditionFalse, "ProbeFailed", fmt.Sprintf("Readiness probe failed from %s: %s", g.source, t.Reason)
	if t.To == state.Success {
		status, reason, message = corev1.ConditionTrue, "ProbeSucceeded", fmt.Sprintf("Readiness probe succeeded from %s", g.source)
	}
	since := metav1.NewTime(t.At)
	for _, c := range pod.Status.Conditions {
		if string(c.Type) != g.condition {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == message {
			return "unchanged"
		}
		if c.Status == status {
			since = c.LastTransitionTime // only a change of status moves it
		}
	}
	cond := corev1ac.PodCondition().WithType(corev1.PodConditionType(g.condition)).WithStatus(status).
		WithReason(reason).WithMessage(message).WithLastTransitionTime(since)
	apply := corev1ac.Pod(name, ns).WithStatus(corev1ac.PodStatus().WithConditions(cond))
	if _, err := g.client.CoreV1().Pods(ns).ApplyStatus(ctx, apply, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		g.log.Warn("readiness gate: writing the condition failed", "namespace", ns, "pod", name, "err", err)
		return "error"
	}
	return "written"
}
