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
	wake      chan struct{}

	mu sync.Mutex
	// unwritten holds, by pod, the latest change not written yet: a pod
	// that changes again before its write goes out is written once, with
	// its latest state, so the map (bounded by the gated pods) replaces a
	// queue that a burst could overflow — a dropped change would leave a
	// pod unready for good. A write that fails is tried again every
	// retryEvery; the oldest change's age is a metric (and an alert).
	unwritten map[podKey]*pending

	writes *prometheus.CounterVec
	oldest prometheus.GaugeFunc
}

// pending is a pod's change waiting to be written: the latest
// transition, since when the pod has been waiting, and whether a write
// of it failed (then only the retry tick tries it again).
type pending struct {
	t        scheduler.Transition
	since    time.Time
	failed   bool
	inFlight bool // being written now: a newer change doesn't supersede it
}

// NewGate makes a Gate writing condition; node is this exporter's node
// ("" unless DaemonSet mode).
func NewGate(client kubernetes.Interface, condition, node, source string, log *slog.Logger, reg prometheus.Registerer) *Gate {
	g := &Gate{client: client, condition: condition, node: node, source: source, log: log, wake: make(chan struct{}, 1),
		unwritten: map[podKey]*pending{},
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_readiness_gate_writes_total",
			Help: "Readiness state changes of pods, by what became of them: written, unchanged (already so), superseded (changed again before it was written), not_gated (the pod declares no gate), other_node (another node's replica writes it), gone (no such pod), error.",
		}, []string{"result"}),
	}
	g.oldest = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "probe_exporter_readiness_gate_oldest_unwritten_seconds",
		Help: "Age of the oldest readiness state change not yet written to its pod's gate (0: none waiting).",
	}, g.oldestAge)
	reg.MustRegister(g.writes, g.oldest)
	return g
}

// Observe is a scheduler.Options.OnTransition: readiness changes of pods
// are noted for Run, never waited on. A change that names no pod, or
// (mesh mode) a pod on another node, is settled here without a call to
// the API server.
func (g *Gate) Observe(t scheduler.Transition) {
	if t.Kind != probe.Readiness {
		return
	}
	ns, name, _ := objectOf(t)
	switch {
	case ns == "" || name == "":
		g.writes.WithLabelValues("not_gated").Inc()
		return
	case g.node != "" && !onNode(t, g.node):
		g.writes.WithLabelValues("other_node").Inc()
		return
	}
	k := podKey{ns, name}
	g.mu.Lock()
	if p, ok := g.unwritten[k]; ok {
		if !p.inFlight && !p.failed {
			g.writes.WithLabelValues("superseded").Inc()
		}
		p.t, p.failed = t, false
	} else {
		g.unwritten[k] = &pending{t: t, since: t.At}
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// onNode is false when t's labels say its target is on another node than
// node (mesh mode's node label); true when they say nothing either way
// (the pod's own spec decides).
func onNode(t scheduler.Transition, node string) bool {
	for i, n := range t.Labels.Names.Names {
		if n == "node" {
			return t.Labels.Values[i] == node
		}
	}
	return true
}

type podKey struct{ namespace, name string }

// retryEvery is how often writes that failed are tried again.
const retryEvery = 5 * time.Second

func (g *Gate) oldestAge() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var oldest time.Time
	for _, p := range g.unwritten {
		if oldest.IsZero() || p.since.Before(oldest) {
			oldest = p.since
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest).Seconds()
}

// Run writes the changes Observe noted, and retries those that failed,
// until ctx ends. Writes go out one at a time, at the pace the client's
// rate limiter allows.
func (g *Gate) Run(ctx context.Context) {
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	for {
		retrying := false
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case <-retry.C:
			retrying = true
		}
		for _, k := range g.due(retrying) {
			if ctx.Err() != nil {
				return
			}
			g.mu.Lock()
			p, ok := g.unwritten[k]
			var t scheduler.Transition
			if ok {
				t, p.inFlight = p.t, true
			}
			g.mu.Unlock()
			if ok {
				g.try(ctx, k, t)
			}
		}
	}
}

// due are the pods to write now: the changes not tried yet, and on a
// retry those that failed too.
func (g *Gate) due(retrying bool) []podKey {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ks []podKey
	for k, p := range g.unwritten {
		if retrying || !p.failed {
			ks = append(ks, k)
		}
	}
	return ks
}

// try writes t for pod k; anything but an error settles it, unless the
// pod changed again meanwhile.
func (g *Gate) try(ctx context.Context, k podKey, t scheduler.Transition) {
	result := g.write(ctx, k, t)
	g.writes.WithLabelValues(result).Inc()
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.unwritten[k]
	if ok {
		p.inFlight = false
	}
	switch {
	case !ok || !p.t.At.Equal(t.At) || p.t.To != t.To:
		// changed again while this write was out: the next round writes it
	case result == "error":
		p.failed = true
	default:
		delete(g.unwritten, k)
	}
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
