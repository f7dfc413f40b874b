package gcpace

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/internal/await"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const mb = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		name string
		live uint64
		rate float64
		want int
	}{
		{"no collection yet", 0, 100 * mb, 50},
		{"idle", 120 * mb, 0, 50},
		// 100k idle probes: 1.6k attempts/s of a few KB, 120 MB of state.
		{"large state, low rate", 120 * mb, 5 * mb, 50},
		{"rate equal to half the state", 100 * mb, 50 * mb, 50},
		{"rate above half the state", 50 * mb, 30 * mb, 60},
		{"rate above half the state, headroom capped", 100 * mb, 60 * mb, 50},
		// 16k httpGet probes a second on one core.
		{"small state, high rate: 32 MB of headroom", 15 * mb, 45 * mb, 214},
		{"small state, rate under the cap", 15 * mb, 30 * mb, 200},
		// The first lists of 10k Services and EndpointSlices: a burst over
		// a heap still small, then a large heap allocating fast.
		{"discovery's first lists", 40 * mb, 300 * mb, 80},
		{"discovery, synced", 90 * mb, 300 * mb, 50},
		{"tiny state, high rate: the ceiling", 2 * mb, 45 * mb, 1000},
		{"rounded up", 3 * mb, 1 * mb, 50},
		{"just above the floor", 60 * mb, 30.3 * mb, 51},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Default.Percent(c.live, c.rate); got != c.want {
				t.Errorf("Percent(%d MB live, %.0f MB/s) = %d, want %d", c.live/mb, c.rate/mb, got, c.want)
			}
		})
	}
}

// TestStep: the rate rises to what three readings in a row reached and
// follows a lull by halves; GOGC is set only when it moves by more than
// an eighth, or back to the floor.
func TestStep(t *testing.T) {
	p := &pacer{policy: Default, current: Default.Floor}
	for _, s := range []struct {
		allocMB, liveMB uint64 // cumulative allocation; live after the last GC
		elapsed         float64
		want            int
		set             bool
		why             string
	}{
		{0, 15, 1, 50, false, "nothing allocated"},
		{45, 15, 1, 50, false, "45 MB/s for a second: a burst, not yet a rate"},
		{90, 15, 1, 50, false, "two seconds"},
		{135, 15, 1, 214, true, "three seconds of 45 MB/s over 15 MB live: 32 MB of headroom"},
		{181, 15, 1, 214, false, "46 MB/s: still 32 MB"},
		{181, 15, 1, 150, true, "a second of nothing: the rate halves to 22.5 MB/s"},
		{181, 15, 1, 75, true, "and again: 11.25 MB/s"},
		{181, 15, 1, 50, true, "5.6 MB/s asks for 38: back to the floor"},
		{181, 15, 1, 50, false, "at the floor"},
		{227, 15, 1, 50, false, "46 MB/s once after a lull: a burst"},
		{227, 15, 0, 50, false, "no time passed: no rate"},
		{300, 0, 1, 50, false, "no collection yet: the floor"},
	} {
		got, changed := p.step(s.allocMB*mb, s.liveMB*mb, s.elapsed)
		if got != s.want || changed != s.set {
			t.Errorf("%s: step = %d, %v; want %d, %v (rate %.2f MB/s)", s.why, got, changed, s.want, s.set, p.rate/mb)
		}
	}
}

// TestRunSetsAndStops: Start sets the floor before it returns, follows the readings
// each window, and returns when its context ends.
func TestRunSetsAndStops(t *testing.T) {
	var (
		mu     sync.Mutex
		sets   []int
		allocs uint64
	)
	read := func() (uint64, uint64) {
		mu.Lock()
		defer mu.Unlock()
		allocs += 15 * mb // a window's worth: as much as is live
		return allocs, 15 * mb
	}
	set := func(v int) int {
		mu.Lock()
		defer mu.Unlock()
		sets = append(sets, v)
		return 0
	}
	var clock time.Time
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(10 * time.Millisecond)
		return clock
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := start(ctx, Policy{Floor: 50, Ceiling: 1000, Window: 10 * time.Millisecond}, read, set, now)
	mu.Lock()
	if len(sets) != 1 || sets[0] != 50 {
		t.Errorf("GOGC set to %v when Start returned, want the floor", sets)
	}
	mu.Unlock()
	await.True(t, "GOGC raised for a window's allocation as large as the live heap", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sets) >= 2
	})
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// The same rate every tick after: nothing more to set.
	if len(sets) != 2 || sets[0] != 50 || sets[1] != 100 {
		t.Errorf("GOGC set to %v, want [50 100]", sets)
	}
}

// TestRunFollowsTheRuntime: on the real runtime, a burst of allocation
// over a small live heap raises GOGC above the floor, as the runtime
// itself reports it (what go_gc_gogc_percent shows).
func TestRunFollowsTheRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	done := Start(ctx, Policy{Floor: 50, Ceiling: 1000, Window: 50 * time.Millisecond})
	defer func() { cancel(); <-done }()
	var sink []byte
	await.True(t, "GOGC above the floor while allocating fast", func() bool {
		for i := 0; i < 1000; i++ {
			sink = make([]byte, 64<<10) // 64 MB a call
		}
		return gogc() > 50
	})
	_ = sink
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
