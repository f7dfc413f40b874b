package scheduler

import (
	"slices"
)

// seriesIndex finds probes that would render the same series. The first
// of each runs; the rest stand by (not scheduled, not rendered) and the
// next takes over when it goes.
type seriesIndex map[string][]*worker

// seriesKey is the series' label text: it holds the entry (the target
// label) and every other label, and indexing by it allocates nothing.
func seriesKey(w *worker) string { return w.spec.Labels.Text() }

func (x seriesIndex) add(s *Scheduler, w *worker) {
	k := seriesKey(w)
	x[k] = append(x[k], w)
	if len(x[k]) == 1 {
		w.standby = false
		s.active.add(w)
		if w.index < 0 && w.stop == nil && !w.queued {
			s.queue.push(w)
		}
		return
	}
	if !w.standby {
		s.log.Debug("probe duplicates another source's series; standing by", "target", w.spec.Entry, "kind", w.spec.Kind.String(), "address", w.spec.Labels.Address())
	}
	w.standby = true
	s.active.remove(w)
	if w.index >= 0 {
		s.queue.remove(w.index)
	}
}

func (x seriesIndex) remove(s *Scheduler, w *worker) {
	k := seriesKey(w)
	ws := x[k]
	i := slices.Index(ws, w)
	if i < 0 {
		return
	}
	s.active.remove(w)
	ws = slices.Delete(ws, i, i+1)
	if len(ws) == 0 {
		delete(x, k)
		return
	}
	x[k] = ws
	if i == 0 {
		next := ws[0]
		next.standby = false
		s.active.add(next)
		if next.index < 0 && next.stop == nil && !next.queued {
			next.next = s.now()
			s.queue.push(next)
		}
	}
}
