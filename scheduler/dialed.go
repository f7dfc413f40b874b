package scheduler

import "github.com/probe-exporter/probe-exporter/prober"

// dialedIndex counts, by address, the probes that dial it: network
// probes only (an exec probe's address is a label, not a connection the
// exporter makes). /probe's allowDiscovered asks it on every dial, so it
// is a lookup, not a walk of every probe. Guarded by Scheduler.mu.
type dialedIndex map[string]int

func (x dialedIndex) add(w *worker) {
	if w.spec.Prober.Type() != prober.Exec {
		x[w.spec.Labels.Address()]++
	}
}

func (x dialedIndex) remove(w *worker) {
	if w.spec.Prober.Type() == prober.Exec {
		return
	}
	a := w.spec.Labels.Address()
	if x[a]--; x[a] <= 0 {
		delete(x, a)
	}
}

// Probing reports whether a network probe dials address (host:port, as
// the address label spells it) now (state.Reader).
func (s *Scheduler) Probing(address string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialed[address] > 0
}
