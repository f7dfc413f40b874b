package status

import "github.com/probe-exporter/probe-exporter/scheduler"

// Fixed is a Source of given probes, handed out one copy at a time as the
// scheduler hands them out: for tests of what is built on a Source.
type Fixed []scheduler.Status

// Each calls fn for each probe, with a copy.
func (f Fixed) Each(fn func(*scheduler.Status)) {
	var st scheduler.Status
	for i := range f {
		st = f[i]
		fn(&st)
	}
}
