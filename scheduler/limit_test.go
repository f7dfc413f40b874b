package scheduler

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
)

// TestInFlightLimitAdjust: the bound comes down from what was running
// while the CPU is saturated, never under the floor; it goes up only when
// probes waited with every slot in use, never over the ceiling; a fixed
// bound never moves.
func TestInFlightLimitAdjust(t *testing.T) {
	const hot, cool = 2 * saturatedLatency, saturatedLatency / 2
	type step struct {
		latency      time.Duration
		peak, busy   int
		demand       bool
		want         int
		wantsChanged bool
	}
	for _, tc := range []struct {
		name  string
		start int
		steps []step
	}{
		{"saturated: from what ran, not from the bound", 1000, []step{
			{hot, 200, 150, true, 150, true}, // 3/4 of the 200 that ran
			{hot, 150, 100, true, 112, true},
		}},
		{"never under the floor", 20, []step{
			{hot, 20, 20, true, 15, true},
			{hot, 15, 15, true, 11, true},
			{hot, 11, 11, true, 8, true},
			{hot, 8, 8, true, 8, false},
		}},
		{"a saturated CPU with nobody waiting changes nothing", 100, []step{
			{hot, 10, 10, false, 100, false},
		}},
		{"grows by a quarter when probes waited on full slots", 100, []step{
			{cool, 100, 100, true, 125, true},
			{cool, 125, 125, true, 156, true},
		}},
		{"no growth without demand, or with slots unused", 100, []step{
			{cool, 100, 100, false, 100, false},
			{cool, 60, 60, true, 100, false},
		}},
		{"never over the ceiling", 190, []step{
			{cool, 190, 190, true, 200, true},
			{cool, 200, 200, true, 200, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newInFlightLimit(200, true, nil, 0)
			l.floor, l.value = 8, tc.start
			if tc.start > l.ceiling {
				l.ceiling = tc.start
			}
			for i, st := range tc.steps {
				l.peak, l.demand = st.peak, st.demand
				changed := l.adjust(st.latency, st.busy)
				if l.value != st.want || changed != st.wantsChanged {
					t.Fatalf("step %d: bound %d (changed %v), want %d (%v)", i, l.value, changed, st.want, st.wantsChanged)
				}
				if l.peak != st.busy || l.demand {
					t.Fatalf("step %d: the interval's peak and demand were not reset", i)
				}
			}
		})
	}
}

// TestAdaptiveBoundFollowsTheCPU: with probes waiting for slots, a
// saturated CPU brings the bound down to its floor — and the probes
// running with it — and a free one brings it back to the ceiling.
func TestAdaptiveBoundFollowsTheCPU(t *testing.T) {
	var latency atomic.Int64
	latency.Store(int64(2 * saturatedLatency))
	s, reg := harness(t, Options{MaxInFlight: 64, AdaptiveInFlight: true,
		schedLatency: func() time.Duration { return time.Duration(latency.Load()) }, adjustEvery: 10 * time.Millisecond})
	pastStartup(s)
	p := &busyProber{d: 20 * time.Millisecond, calls: map[string]int{}}
	var ts []Target
	for i := 0; i < 400; i++ { // 8,000 ticks a second for slots that run 3,200
		ts = append(ts, Target{Key: fmt.Sprint("t", i), Specs: []Spec{spec(probe.Readiness, p, 50*time.Millisecond)}})
	}
	syncT(s, "src", ts)
	floor := min(64, 4*runtime.GOMAXPROCS(0))
	await.True(t, "the bound at its floor", func() bool { return gauge(t, reg, "probe_exporter_probes_in_flight_limit") == float64(floor) })
	await.True(t, "no more running than the floor", func() bool { return s.inFlight.Load() <= int64(floor) })
	latency.Store(int64(saturatedLatency / 10))
	await.True(t, "the bound back at the ceiling", func() bool { return gauge(t, reg, "probe_exporter_probes_in_flight_limit") == 64 })
	if got := gauge(t, reg, "probe_exporter_probes_max_in_flight"); got != 64 {
		t.Errorf("probe_exporter_probes_max_in_flight %v, want the ceiling 64", got)
	}
}

// TestFixedBoundStays: without AdaptiveInFlight the bound is the flag's,
// whatever the CPU says.
func TestFixedBoundStays(t *testing.T) {
	s, reg := harness(t, Options{MaxInFlight: 64,
		schedLatency: func() time.Duration { return time.Second }, adjustEvery: time.Millisecond})
	pastStartup(s)
	p := &busyProber{d: 20 * time.Millisecond, calls: map[string]int{}}
	var ts []Target
	for i := 0; i < 200; i++ {
		ts = append(ts, Target{Key: fmt.Sprint("t", i), Specs: []Spec{spec(probe.Readiness, p, 50*time.Millisecond)}})
	}
	syncT(s, "src", ts)
	await.True(t, "every slot used", func() bool { return s.inFlight.Load() == 64 })
	if got := gauge(t, reg, "probe_exporter_probes_in_flight_limit"); got != 64 {
		t.Errorf("the bound is %v, want the fixed 64", got)
	}
}

// TestSchedLatencyReadsTheRuntime: the first read is a baseline (0); with
// more goroutines spinning than there are Ps, the next read says the CPU
// is saturated.
func TestSchedLatencyReadsTheRuntime(t *testing.T) {
	var l schedLatency
	if got := l.p90(); got != 0 {
		t.Errorf("the first read: %v, want 0", got)
	}
	// The runtime samples one scheduling in eight or so per goroutine:
	// a round of 200 ms may sample none on a loaded machine (it did in
	// CI: 0s), so rounds repeat until one is sampled, for up to 5 s.
	var got time.Duration
	for round := 0; round < 25 && got == 0; round++ {
		var wg sync.WaitGroup
		stop := time.Now().Add(200 * time.Millisecond)
		for i := 0; i < 8*runtime.GOMAXPROCS(0); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) { // preempted every 10 ms, then waits behind the others
				}
			}()
		}
		wg.Wait()
		got = l.p90()
	}
	if got <= saturatedLatency {
		t.Errorf("p90 scheduling latency %v with the CPU oversubscribed, want over %v", got, saturatedLatency)
	}
}

// gauge reads an unlabelled gauge.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
