package scheduler

import (
	"maps"
	"math/rand/v2"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/state"
)

// Sync makes the targets of source exactly ts. A probe keeps its state
// and schedule while its identity holds: the same target Key, kind and
// definition (Identity) and the same address, the one label that says
// where requests go. Other labels, and target details that don't change
// the address (an exec probe's variables), may change under it: the next
// attempt uses them. A probe whose identity changed starts afresh, at
// once; those missing stop at once (a running attempt is cancelled and its
// result dropped). Sync(source, nil) removes the source.
//
// Probes of different sources can describe the same series (one endpoint
// in two EndpointSlices): the first one seen runs and is rendered, the
// others wait behind it and take over when it goes.
func (s *Scheduler) Sync(source string, ts []Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	old := s.sources[source]
	next := make(map[string]*target, len(ts))
	added, removed := 0, 0
	for i := range ts {
		nt := &ts[i]
		if _, dup := next[nt.Key]; dup {
			s.log.Warn("duplicate target key in one source; keeping the first", "source", source, "key", nt.Key)
			continue
		}
		ot, ok := old[nt.Key]
		if !ok {
			next[nt.Key] = s.addLocked(nt, now)
			added++
			continue
		}
		delete(old, nt.Key)
		a, r := s.updateLocked(ot, nt, now)
		added, removed = added+a, removed+r
		if len(ot.workers) > 0 {
			next[nt.Key] = ot
		}
	}
	for _, ot := range old {
		removed += len(ot.workers)
		s.removeLocked(ot)
	}
	if len(next) == 0 {
		delete(s.sources, source)
		if len(s.sources) == 0 {
			s.releaseParkedLocked() // nothing left to run: nothing left waiting
		}
	} else {
		s.sources[source] = next
	}
	if added+removed > 0 {
		s.log.Debug("targets synced", "source", source, "targets", len(next), "probes_added", added, "probes_removed", removed)
	}
	s.signal()
}

// updateLocked matches a known target's probes with its new specs: a probe
// with the same kind, definition and address is kept (labels and target
// details updated in place), the others replaced.
func (s *Scheduler) updateLocked(t *target, nt *Target, now time.Time) (added, removed int) {
	keep := make([]*worker, 0, len(nt.Specs))
	reused := make(map[*worker]bool, len(t.workers))
	for i := range nt.Specs {
		sp := &nt.Specs[i]
		var w *worker
		for _, ow := range t.workers {
			if !reused[ow] && ow.spec.Kind == sp.Kind && ow.spec.Identity == sp.Identity && ow.spec.Labels.Address() == sp.Labels.Address() {
				w = ow
				break
			}
		}
		if w == nil {
			keep = append(keep, s.newWorkerLocked(t, *sp, now))
			added++
			continue
		}
		reused[w] = true
		s.updateWorkerLocked(w, sp)
		keep = append(keep, w)
	}
	for _, ow := range t.workers {
		if !reused[ow] {
			s.removeWorkerLocked(ow)
			removed++
		}
	}
	t.workers, t.startup = keep, nil
	for _, w := range keep {
		if w.spec.Kind == probe.Startup {
			t.startup = w
		}
	}
	return added, removed
}

// updateWorkerLocked gives a kept probe its new labels and target details.
// A target whose details changed (an exec probe's variables) takes effect
// with the next attempt; a running one's result is dropped, since it was
// made with the old details.
func (s *Scheduler) updateWorkerLocked(w *worker, sp *Spec) {
	w.mu.Lock()
	if !sameTarget(w.spec.Target, sp.Target) {
		w.spec.Target = sp.Target
	}
	relabel := !w.spec.Labels.Equal(sp.Labels)
	if relabel {
		w.spec.Labels = sp.Labels
	}
	w.mu.Unlock()
	if relabel {
		s.series.remove(s, w)
		s.series.add(s, w)
	}
}

func sameTarget(a, b *prober.Target) bool {
	return a.Host == b.Host && a.Port == b.Port && maps.Equal(a.NamedPorts, b.NamedPorts) && maps.Equal(a.Vars, b.Vars)
}

func (s *Scheduler) addLocked(nt *Target, now time.Time) *target {
	t := &target{key: nt.Key, appeared: s.offset(now)}
	if !nt.Since.IsZero() && nt.Since.Before(now) {
		t.appeared = s.offset(nt.Since)
	}
	for _, sp := range nt.Specs {
		w := s.newWorkerLocked(t, sp, now)
		if sp.Kind == probe.Startup {
			t.startup = w
		}
		t.workers = append(t.workers, w)
	}
	return t
}

func (s *Scheduler) newWorkerLocked(t *target, sp Spec, now time.Time) *worker {
	w := &worker{t: t, spec: sp, index: -1, activeAt: -1, lane: s.laneLocked(sp.Entry)}
	w.lane.workers++
	w.rec.Machine = state.NewMachine(sp.Kind, sp.SuccessThreshold, sp.FailureThreshold, now)
	// The kubelet probes a new worker at once, except in its first
	// period after start, when it waits a random part of a period so
	// that everything known at start-up doesn't fire together.
	w.next = s.offset(now)
	if !s.noJitter && sp.Period > now.Sub(s.started) {
		w.next += time.Duration(rand.Int64N(int64(sp.Period)))
	}
	s.series.add(s, w)
	s.dialed.add(w)
	return w
}

func (s *Scheduler) removeLocked(t *target) {
	for _, w := range t.workers {
		s.removeWorkerLocked(w)
	}
	t.workers = nil
}

func (s *Scheduler) removeWorkerLocked(w *worker) {
	w.removed = true
	w.lane.workers--
	s.dropLaneLocked(w.lane)
	s.series.remove(s, w)
	s.dialed.remove(w)
	if w.index >= 0 {
		s.queue.remove(int(w.index))
	}
	if w.stop != nil {
		w.stop.Stop()
	}
}
