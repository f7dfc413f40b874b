package scheduler

import (
	"slices"
)

// seriesIndex finds probes that would render the same series. The first
// of each runs; the rest stand by (not scheduled, not rendered) and the
// next takes over when it goes. The one that runs is by itself in first
// (one pointer per series: a slice for every series cost 5 MB at 100k
// probes); those standing by, rare, wait in order in standby.
type seriesIndex struct {
	first   map[string]*worker
	standby map[string][]*worker
}

func newSeriesIndex() seriesIndex {
	return seriesIndex{first: map[string]*worker{}, standby: map[string][]*worker{}}
}

// seriesKey is the series' label text: it holds the entry (the target
// label) and every other label, and indexing by it allocates nothing.
func seriesKey(w *worker) string { return w.spec.Labels.Text() }

func (x seriesIndex) add(s *Scheduler, w *worker) {
	k := seriesKey(w)
	if _, taken := x.first[k]; taken {
		x.standby[k] = append(x.standby[k], w)
	} else {
		x.first[k] = w
	}
	if x.first[k] == w {
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
		s.queue.remove(int(w.index))
	}
}

func (x seriesIndex) remove(s *Scheduler, w *worker) {
	k := seriesKey(w)
	if x.first[k] != w {
		ws := x.standby[k]
		if i := slices.Index(ws, w); i >= 0 {
			x.setStandby(k, slices.Delete(ws, i, i+1))
		}
		return
	}
	s.active.remove(w)
	ws := x.standby[k]
	if len(ws) == 0 {
		delete(x.first, k)
		return
	}
	next := ws[0]
	x.first[k] = next
	x.setStandby(k, slices.Delete(ws, 0, 1))
	next.standby = false
	s.active.add(next)
	if next.index < 0 && next.stop == nil && !next.queued {
		next.next = s.offset(s.now())
		s.queue.push(next)
	}
}

func (x seriesIndex) setStandby(k string, ws []*worker) {
	if len(ws) == 0 {
		delete(x.standby, k)
		return
	}
	x.standby[k] = ws
}
