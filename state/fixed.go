package state

import (
	"github.com/probe-exporter/probe-exporter/prober"
)

// Fixed is a Reader of given probes, handed out one copy at a time as the
// scheduler hands them out: for tests of what is built on a state.Reader.
type Fixed []View

// Each calls fn for each probe, with a copy.
func (f Fixed) Each(fn func(*View)) {
	var st View
	for i := range f {
		st = f[i]
		fn(&st)
	}
}

// Targets counts the distinct target keys of each entry.
func (f Fixed) Targets() map[string]int {
	seen := map[[2]string]bool{}
	out := map[string]int{}
	for _, v := range f {
		if k := [2]string{v.Entry, v.Key}; !seen[k] {
			seen[k] = true
			out[v.Entry]++
		}
	}
	return out
}

// Probing reports whether a network probe of f has address.
func (f Fixed) Probing(address string) bool {
	for _, v := range f {
		if v.Handler != prober.Exec && v.Labels.Address() == address {
			return true
		}
	}
	return false
}
