package scheduler

import (
	"time"

	"github.com/probe-exporter/probe-exporter/state"
)

// Status is a copy of one probe's definition and state for the collector.
type Status struct {
	Spec   Spec
	Key    string
	Record state.Record
	// Next is when the probe runs next; zero while it runs or waits for
	// a slot, and once it needs no more runs (a startup probe that
	// succeeded).
	Next time.Time
}

// Each calls fn for every probe of every target, with a consistent copy of
// its state. fn must not call back into the Scheduler.
func (s *Scheduler) Each(fn func(*Status)) {
	s.mu.Lock()
	ws := make([]*worker, 0, s.queue.Len()+int(s.inFlight.Load())+16)
	for _, src := range s.sources {
		for _, t := range src {
			for _, w := range t.workers {
				if !w.standby {
					ws = append(ws, w)
				}
			}
		}
	}
	s.mu.Unlock()
	var st Status
	for _, w := range ws {
		st.Key = w.t.key
		st.Next = time.Time{} // running, waiting for a slot, or done
		if due := w.due.Load(); due != 0 {
			st.Next = time.Unix(0, due)
		}
		w.mu.Lock()
		st.Spec = w.spec
		st.Record = w.rec
		w.mu.Unlock()
		fn(&st)
	}
}

// Targets counts the targets probed now, by entry: each target once,
// however many probes it has.
func (s *Scheduler) Targets() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, src := range s.sources {
		for _, t := range src {
			for _, w := range t.workers {
				if !w.standby {
					out[w.spec.Entry]++
					break
				}
			}
		}
	}
	return out
}
