package scheduler

// activeSet is every probe that runs and renders (the first of each
// series: seriesIndex), in one flat list, and how many targets of each
// entry have one: what readers walk. Walking every source's targets'
// probes and skipping those standing by was most of a scrape's cost at
// 100k probes.
type activeSet struct {
	ws      []*worker
	targets map[string]int // entry → targets with an active probe
}

// add makes w active; no-op if it is.
func (a *activeSet) add(w *worker) {
	if w.activeAt >= 0 {
		return
	}
	w.activeAt = int32(len(a.ws))
	a.ws = append(a.ws, w)
	w.t.active++
	if w.t.active == 1 {
		a.targets[w.spec.Entry]++
	}
}

// remove makes w inactive; no-op if it is not active.
func (a *activeSet) remove(w *worker) {
	i := w.activeAt
	if i < 0 {
		return
	}
	last := int32(len(a.ws) - 1)
	a.ws[i] = a.ws[last]
	a.ws[i].activeAt = i
	a.ws[last] = nil
	a.ws = a.ws[:last]
	w.activeAt = -1
	w.t.active--
	if w.t.active == 0 {
		if a.targets[w.spec.Entry]--; a.targets[w.spec.Entry] == 0 {
			delete(a.targets, w.spec.Entry)
		}
	}
}
