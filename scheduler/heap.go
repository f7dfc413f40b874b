package scheduler

import "time"

// workerHeap orders the idle workers by their next planned start: the
// timing loop takes what is due from its root. Among probes planned for
// the same instant (targets that came together) the one that started
// longest ago comes first: under overload, whose ticks get skipped
// rotates.
//
// Each entry carries its keys, so that ordering reads one array and not
// two workers (at 40k probes and one core the pointer-chasing version
// was 8 % of the CPU); w.index follows its entry for removal.
type workerHeap struct {
	// base is what workers' planned starts are offsets from
	// (Scheduler.started), for their due time in wall-clock terms.
	base time.Time
	e    []heapEntry
}

type heapEntry struct {
	at   time.Duration // w.next
	last int64         // w.lastStart
	w    *worker
}

func (a *heapEntry) before(b *heapEntry) bool {
	return a.at < b.at || (a.at == b.at && a.last < b.last)
}

func (h *workerHeap) Len() int       { return len(h.e) }
func (h *workerHeap) first() *worker { return h.e[0].w }

// push adds w, planned at w.next.
func (h *workerHeap) push(w *worker) {
	i := len(h.e)
	w.index = int32(i)
	w.due.Store(h.base.Add(w.next).UnixNano())
	h.e = append(h.e, heapEntry{at: w.next, last: w.lastStart, w: w})
	h.up(i)
}

// pop takes the root.
func (h *workerHeap) pop() *worker {
	w := h.e[0].w
	h.remove(0)
	return w
}

// remove takes the worker at index i.
func (h *workerHeap) remove(i int) {
	last := len(h.e) - 1
	w := h.e[i].w
	if i != last {
		h.set(i, h.e[last])
	}
	h.e[last] = heapEntry{}
	h.e = h.e[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	w.index = -1
	w.due.Store(0)
}

func (h *workerHeap) set(i int, e heapEntry) {
	h.e[i] = e
	e.w.index = int32(i)
}

func (h *workerHeap) up(i int) {
	e := h.e[i]
	for i > 0 {
		parent := (i - 1) / 2
		if !e.before(&h.e[parent]) {
			break
		}
		h.set(i, h.e[parent])
		i = parent
	}
	h.set(i, e)
}

// down sifts the entry at i toward the leaves; false if it stayed.
func (h *workerHeap) down(i0 int) bool {
	e := h.e[i0]
	i, n := i0, len(h.e)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.e[r].before(&h.e[c]) {
			c = r
		}
		if !h.e[c].before(&e) {
			break
		}
		h.set(i, h.e[c])
		i = c
	}
	h.set(i, e)
	return i > i0
}
