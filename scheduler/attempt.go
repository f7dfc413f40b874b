package scheduler

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

func (s *Scheduler) runOnce(ctx context.Context, w *worker, planned time.Time, stop *prober.Stop) {
	start := s.now()
	s.lateness.Observe(start.Sub(planned).Seconds())
	counters := s.counters(w.spec.Prober.Type())
	w.mu.Lock()
	pt := w.spec.Target
	w.mu.Unlock()
	var took time.Duration
	o := stop.Run(ctx, w.spec.Prober, pt, w.spec.Timeout, s.now, func(o prober.Outcome, d time.Duration) {
		took = d
		switch {
		case o.Err != nil:
			counters[2].Inc()
		case state.ResultValue(o.Result) == state.Failure:
			counters[1].Inc()
		default:
			counters[0].Inc()
		}
	})
	if ctx.Err() != nil || stop.Stopped() {
		return // removed or shutting down: the result means nothing
	}
	w.mu.Lock()
	if w.spec.Target != pt {
		w.mu.Unlock()
		return // made with details that changed meanwhile: describes nothing current
	}
	from := w.rec.Value()
	changed := w.rec.Apply(o, took, s.now())
	v, reason := w.rec.Value(), w.rec.LastReason
	// A readiness probe starts at failure: one that fails from its first
	// attempts never changes state, and would never be said at info.
	// Said once, when it settles there.
	failingFromStart := !changed && !w.said && v == state.Failure && w.rec.Settled()
	w.said = w.said || changed || failingFromStart
	var addr string
	var labels *series.Labels
	if changed || failingFromStart {
		labels = w.spec.Labels // labels change under w.mu
		addr = labels.Address()
	}
	class := w.rec.LastClass
	w.mu.Unlock()
	if changed || failingFromStart {
		// A readiness probe failing from its start never changes state
		// (it starts at failure): it settles there, and says so once.
		s.notify(Transition{Entry: w.spec.Entry, Kind: w.spec.Kind, Labels: labels, From: from, To: v, Reason: reason, Class: class, At: s.now()})
	}
	switch {
	case changed:
		s.transitions.log(s.log, s.now(), "probe state changed", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", addr, "from", from.String(), "to", v.String(), "reason", reason)
	case failingFromStart:
		s.transitions.log(s.log, s.now(), "probe failing since it started", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", addr, "state", v.String(), "reason", reason)
	}
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	switch {
	case o.Err != nil:
		s.log.Debug("probe errored; result discarded", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", w.spec.Prober.Address(pt), "err", o.Err)
	case changed, failingFromStart:
		// said at info above
	case state.ResultValue(o.Result) == state.Failure:
		s.log.Debug("probe failed", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", w.spec.Prober.Address(pt), "output", truncate(o.Output, 256))
	}
}

func (s *Scheduler) counters(typ prober.Type) *[3]prometheus.Counter {
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	c := s.attemptCounters[typ]
	if c == nil {
		c = &[3]prometheus.Counter{
			s.attempts.WithLabelValues(typ.String(), "success"),
			s.attempts.WithLabelValues(typ.String(), "failure"),
			s.attempts.WithLabelValues(typ.String(), "error"),
		}
		s.attemptCounters[typ] = c
	}
	return c
}
