// Package feedback writes what the network sees back into Kubernetes:
// Events on the objects behind probes whose thresholded state changes
// (events.go), and the readiness gate pods declare (gate.go).
package feedback

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"

	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/state"
)

// apiTimeout bounds each call to the API server (client-go sets none): a
// stalled server holds a write or a lookup this long, then it errors
// (and a gate write is retried).
var apiTimeout = 10 * time.Second

// queueSize bounds the transitions waiting to become Events: a burst
// beyond it (a whole zone failing at once) is dropped and counted, and
// the scheduler never waits on the API server.
const queueSize = 1024

// Events posts a Kubernetes Event, the way the kubelet does for its own
// probes, on the object behind a probe (the pod of an endpoint or of the
// pod role, the Service of the service role) each time its thresholded
// state changes: Warning "Unhealthy" with the kubelet's wording on
// failure ("Readiness probe failed from node-1: HTTP probe failed with
// statuscode: 503"), Normal "Healthy" on recovery. client-go's event
// broadcaster (events.k8s.io/v1) aggregates repeats into a series and
// rate-limits what it writes.
type Events struct {
	client kubernetes.Interface
	source string
	log    *slog.Logger
	queue  chan scheduler.Transition

	dropped prometheus.Counter
	made    *prometheus.CounterVec
}

// NewEvents makes Events that say they come from source (this
// exporter's node, or its replica's name).
func NewEvents(client kubernetes.Interface, source string, log *slog.Logger, reg prometheus.Registerer) *Events {
	e := &Events{client: client, source: source, log: log, queue: make(chan scheduler.Transition, queueSize),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "probe_exporter_events_dropped_total",
			Help: "State changes not made into Kubernetes Events because too many were waiting.",
		}),
		made: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_events_total",
			Help: "State changes of probes of Kubernetes objects handed to the event broadcaster (result: recorded), or skipped (no object in the labels, or the object is gone).",
		}, []string{"result"}),
	}
	reg.MustRegister(e.dropped, e.made)
	return e
}

// Observe is a scheduler.Options.OnTransition: it never blocks.
func (e *Events) Observe(t scheduler.Transition) {
	select {
	case e.queue <- t:
	default:
		e.dropped.Inc()
	}
}

// Run makes Events of what Observe queued until ctx ends, then stops the
// broadcaster (what it has not written yet is lost).
func (e *Events) Run(ctx context.Context) {
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: e.client.EventsV1()})
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		e.log.Error("kubernetes events: the broadcaster did not start", "err", err)
		return
	}
	defer b.Shutdown()
	rec := b.NewRecorder(scheme.Scheme, "probe-exporter")
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-e.queue:
			e.record(ctx, rec, t)
		}
	}
}

func (e *Events) record(ctx context.Context, rec events.EventRecorder, t scheduler.Transition) {
	ref := e.object(ctx, t)
	if ref == nil {
		e.made.WithLabelValues("skipped").Inc()
		return
	}
	kind := strings.ToUpper(t.Kind.String()[:1]) + t.Kind.String()[1:]
	if t.To == state.Success {
		rec.Eventf(ref, nil, corev1.EventTypeNormal, "Healthy", "Probe", "%s probe succeeded from %s", kind, e.source)
	} else {
		rec.Eventf(ref, nil, corev1.EventTypeWarning, "Unhealthy", "Probe", "%s probe failed from %s: %s", kind, e.source, t.Reason)
	}
	e.made.WithLabelValues("recorded").Inc()
}

// object is the reference an Event about t regards: the pod its labels
// name, else the Service, with the UID read from the API server (kubectl
// describe finds Events by it). nil when the labels name none (a static
// target, labels relabeled away) or it is gone.
func (e *Events) object(ctx context.Context, t scheduler.Transition) *corev1.ObjectReference {
	ns, pod, svc := objectOf(t)
	if ns == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var (
		m    metav1.Object
		kind string
		err  error
	)
	switch {
	case pod != "":
		kind = "Pod"
		m, err = e.client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	case svc != "":
		kind = "Service"
		m, err = e.client.CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
	default:
		return nil
	}
	if err != nil {
		e.log.Debug("kubernetes events: no object for a state change", "target", t.Entry, "kind", kind, "namespace", ns, "err", err)
		return nil
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: kind, Namespace: ns, Name: m.GetName(), UID: m.GetUID()}
}

// String names the sink in logs.
func (e *Events) String() string { return fmt.Sprintf("kubernetes events from %s", e.source) }

// objectOf is the namespace, pod and Service t's labels name (the
// kubernetes roles' namespace, pod and service labels).
func objectOf(t scheduler.Transition) (ns, pod, svc string) {
	if t.Labels == nil {
		return "", "", ""
	}
	for i, n := range t.Labels.Names.Names {
		switch n {
		case "namespace":
			ns = t.Labels.Values[i]
		case "pod":
			pod = t.Labels.Values[i]
		case "service":
			svc = t.Labels.Values[i]
		}
	}
	return ns, pod, svc
}
