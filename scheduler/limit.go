package scheduler

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// inFlightLimit is the bound on probes running at once. Fixed, it is
// --probe.max-in-flight. Adaptive (the default), that flag is its
// ceiling and the bound follows what the CPU can run on time.
//
// Why: a probe's timeout is wall time. When the CPU can't keep up, every
// probe started beyond what it can run waits for it — after its dial,
// after its write, after its read — and the waits add up to attempts
// that fail by their timeout for the exporter's sake, not the target's,
// while those that succeed report latencies that are the exporter's own
// queue. Starting fewer keeps each one's CPU on time; the rest are
// skipped and counted (probe_exporter_ticks_skipped_total), which says
// "overloaded" instead of "target down".
//
// The signal is the Go scheduler's own: how long runnable goroutines
// waited for a CPU (runtime/metrics /sched/latencies:seconds) over the
// last adjustment interval. Its 90th percentile above saturatedLatency
// means the CPU (GOMAXPROCS, or a cgroup's quota throttling them) is
// the bottleneck: if probes waited for a slot meanwhile (the bound is
// what holds them back; a spike while nothing waits — a large scrape, a
// collection, a burst of exec probes starting — changes nothing), the
// bound comes down to three quarters of what was running (never under
// floor). Below it, with probes waiting for a slot
// and every slot used, it goes up by a quarter (never over the ceiling).
// Probes that wait on the network and not on the CPU leave that latency
// near zero, so they keep every slot up to the ceiling.
type inFlightLimit struct {
	adaptive       bool
	ceiling, floor int
	// value is the bound now. Guarded by Scheduler.mu, as are the rest.
	value int
	// peak is the most probes running since the last adjustment; demand,
	// whether a due probe found no slot since then.
	peak   int
	demand bool
	next   time.Time
	// every is how often it may change (adjustEvery); latency reads the
	// scheduling latency over the time since it was last called.
	every   time.Duration
	latency func() time.Duration
}

const (
	// adjustEvery is how often an adaptive bound may change.
	adjustEvery = 500 * time.Millisecond
	// saturatedLatency is the goroutine scheduling latency (90th
	// percentile over an interval) that says the CPU is the bottleneck:
	// an attempt waits about this long for the CPU each time its socket
	// is ready. Far below a timeout, far above an idle process's (µs).
	saturatedLatency = time.Millisecond
)

func newInFlightLimit(ceiling int, adaptive bool, latency func() time.Duration, every time.Duration) inFlightLimit {
	if latency == nil {
		latency = (&schedLatency{}).p90
	}
	if every <= 0 {
		every = adjustEvery
	}
	return inFlightLimit{
		adaptive: adaptive,
		ceiling:  ceiling,
		floor:    min(ceiling, 4*runtime.GOMAXPROCS(0)),
		value:    ceiling,
		every:    every,
		latency:  latency,
	}
}

// running notes how many probes run now.
func (l *inFlightLimit) running(n int) { l.peak = max(l.peak, n) }

// adjust applies an interval's verdict, given the scheduling latency
// over it, and says whether the bound changed. busy is how many probes
// run now.
func (l *inFlightLimit) adjust(p90 time.Duration, busy int) bool {
	before := l.value
	switch {
	case p90 > saturatedLatency && l.demand:
		l.value = max(l.floor, min(l.value, l.peak)*3/4)
	case l.demand && l.peak >= l.value:
		l.value = min(l.ceiling, l.value+max(1, l.value/4))
	}
	l.peak, l.demand = busy, false
	return l.value != before
}

// schedLatency reads the scheduling latency histogram and returns the
// 90th percentile of what was added to it since the last read.
type schedLatency struct {
	sample []metrics.Sample
	last   []uint64
}

func (s *schedLatency) p90() time.Duration {
	if s.sample == nil {
		s.sample = []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	}
	metrics.Read(s.sample)
	if s.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s.sample[0].Value.Float64Histogram()
	defer func() { s.last = append(s.last[:0], h.Counts...) }()
	if len(s.last) != len(h.Counts) {
		return 0 // the first read: only a baseline
	}
	var total uint64
	for i, c := range h.Counts {
		total += c - s.last[i]
	}
	var cum uint64
	for i, c := range h.Counts {
		if cum += c - s.last[i]; total > 0 && cum*10 >= total*9 {
			// Buckets[i+1] is bucket i's upper bound (+Inf for the last).
			return time.Duration(min(h.Buckets[i+1], 3600) * float64(time.Second))
		}
	}
	return 0
}
