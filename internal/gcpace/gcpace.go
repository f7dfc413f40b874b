// Package gcpace sets the exporter's GOGC from what its heap holds and
// how fast it allocates.
//
// Most of an exporter's heap is long-lived probe state, and Go's default
// (collect when the heap has doubled) costs that state's size again in
// RSS: at 100k idle probes about 2.3× the live heap. Letting the heap
// grow by half (GOGC=50) keeps RSS near 1.6× it. But a small heap that
// allocates fast — a few thousand targets probed every second: 15 MB of
// state, 45 MB/s of garbage — then collects five or six times a second,
// and on one core that cost a tenth of the probes it could finish
// (BenchmarkCapacity, httpGet). So the heap may grow by half or by what
// is allocated in a window (a second), up to 32 MiB, whichever is more:
// a collection at most about once a window from allocation alone where
// the heap is small, no change where the state is large, and a memory
// cost of at most 32 MiB beyond GOGC=50 — unbounded, a machine probing
// at hundreds of MB/s of garbage would grow its heap by as much, which
// no one sizing a memory limit expects.
package gcpace

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy is how GOGC follows the heap.
type Policy struct {
	// Floor is the least GOGC: the heap grows by at least this percentage
	// of what was live after the last collection.
	Floor int
	// Ceiling is the most GOGC, whatever the rate (a heap of a few MB
	// allocating fast would otherwise ask for thousands).
	Ceiling int
	// Window is how much allocation the heap may grow by beyond the
	// floor's: at least a window's worth at the recent rate,
	Window time.Duration
	// up to MaxWindowBytes (0: no bound).
	MaxWindowBytes float64
}

// Default is the exporter's policy.
var Default = Policy{Floor: 50, Ceiling: 1000, Window: time.Second, MaxWindowBytes: 32 << 20}

// Percent is the GOGC for a heap with live bytes live after the last
// collection, allocating rate bytes a second.
func (p Policy) Percent(live uint64, rate float64) int {
	if live == 0 {
		return p.Floor
	}
	grow := rate * p.Window.Seconds()
	if p.MaxWindowBytes > 0 {
		grow = min(grow, p.MaxWindowBytes)
	}
	want := math.Ceil(grow * 100 / float64(live))
	return int(max(float64(p.Floor), min(float64(p.Ceiling), want)))
}

// pacer holds what one Start has seen.
type pacer struct {
	policy Policy
	// allocs is the cumulative allocation count read last (bytes).
	allocs uint64
	// rate is the allocation rate, bytes a second. It rises to what the
	// last sustainedWindows readings all reached, and a reading below it
	// halves the difference: a steady rate raises GOGC within a few
	// ticks, a lull lowers it over a few, and a burst shorter than that
	// (the first lists of a large discovery, over a heap still small)
	// raises nothing — the RSS such a burst leaves stays after it.
	rate float64
	// recent are the readings before the last one.
	recent  [sustainedWindows - 1]float64
	current int
}

// sustainedWindows is how many readings in a row a rate must reach
// before GOGC follows it up.
const sustainedWindows = 3

// step takes a reading (cumulative bytes allocated, live bytes after the
// last collection, seconds since the last reading) and says the GOGC to
// set, and whether it differs enough from the one set to be worth it
// (an eighth, or back to the floor).
func (p *pacer) step(allocs, live uint64, elapsed float64) (int, bool) {
	if elapsed > 0 && allocs >= p.allocs {
		r := float64(allocs-p.allocs) / elapsed
		if r > p.rate {
			sustained := r
			for _, o := range p.recent {
				sustained = min(sustained, o)
			}
			p.rate = max(p.rate, sustained)
		} else {
			p.rate = (p.rate + r) / 2
		}
		copy(p.recent[1:], p.recent[:])
		p.recent[0] = r
	}
	p.allocs = allocs
	want := p.policy.Percent(live, p.rate)
	diff := want - p.current
	if diff < 0 {
		diff = -diff
	}
	if diff == 0 || (diff*8 < p.current && want != p.policy.Floor) {
		return p.current, false
	}
	p.current = want
	return want, true
}

// runtime/metrics names read each tick.
const (
	allocsMetric = "/gc/heap/allocs:bytes"
	liveMetric   = "/gc/heap/live:bytes"
)

// Start sets GOGC to the policy's floor, then follows the heap every
// window, from a goroutine, until ctx ends; the channel is closed then.
// GOGC stays as it was last set.
func Start(ctx context.Context, p Policy) <-chan struct{} {
	return start(ctx, p, readRuntime, debug.SetGCPercent, time.Now)
}

func readRuntime() (allocs, live uint64) {
	s := []metrics.Sample{{Name: allocsMetric}, {Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		live = s[1].Value.Uint64()
	}
	return allocs, live
}

func start(ctx context.Context, p Policy, read func() (uint64, uint64), set func(int) int, now func() time.Time) <-chan struct{} {
	pc := &pacer{policy: p, current: p.Floor}
	set(p.Floor)
	pc.allocs, _ = read()
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := now()
		tick := time.NewTicker(p.Window)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			allocs, live := read()
			t := now()
			if v, change := pc.step(allocs, live, t.Sub(last).Seconds()); change {
				set(v)
			}
			last = t
		}
	}()
	return done
}
