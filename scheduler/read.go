package scheduler

import (
	"maps"
	"slices"
	"time"

	"github.com/probe-exporter/probe-exporter/state"
)

// Each calls fn for every probe of every target, with a consistent copy of
// its view (state.Reader). fn must not call back into the Scheduler.
func (s *Scheduler) Each(fn func(*state.View)) {
	s.mu.Lock()
	ws := slices.Clone(s.active.ws)
	s.mu.Unlock()
	var v state.View
	for _, w := range ws {
		v.Key = w.t.key
		v.Next = time.Time{} // running, waiting for a slot, or done
		if due := w.due.Load(); due != 0 {
			v.Next = time.Unix(0, due)
		}
		w.mu.Lock()
		sp := &w.spec
		v.Entry, v.Kind, v.Handler, v.Labels, v.Definition = sp.Entry, sp.Kind, sp.Prober.Type(), sp.Labels, sp.Definition
		v.SuccessThreshold, v.FailureThreshold = sp.SuccessThreshold, sp.FailureThreshold
		v.Record = w.rec
		w.mu.Unlock()
		fn(&v)
	}
}

// Targets counts the targets probed now, by entry: each target once,
// however many probes it has.
func (s *Scheduler) Targets() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.active.targets)
}
