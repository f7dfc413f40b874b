package procpace

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/internal/await"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStep: one P once NarrowAfter windows in a row have stayed under
// Widen and averaged under Narrow; the default again at once from one
// window at Widen.
func TestStep(t *testing.T) {
	p := &pacer{policy: Policy{Narrow: 0.2, NarrowAfter: 3, Widen: 0.5}}
	for i, s := range []struct {
		used         float64
		narrow, move bool
	}{
		{0.05, false, false},
		{0.05, false, false},
		{0.6, false, false}, // at Widen: the count starts again
		{0.05, false, false},
		{0.45, false, false},
		{0.3, false, false},  // three quiet, but a mean of 0.27
		{0.05, false, false}, // 0.45, 0.3, 0.05: 0.27
		{0.05, true, true},   // 0.3, 0.05, 0.05: 0.13, under Narrow
	} {
		narrow, move := p.step(s.used)
		if narrow != s.narrow || move != s.move {
			t.Fatalf("window %d (%.2f cores): narrow %v, change %v; want %v, %v", i, s.used, narrow, move, s.narrow, s.move)
		}
	}
	for i, s := range []struct {
		used         float64
		narrow, move bool
	}{
		{0.45, true, false}, // under Widen: stays narrow
		{0.5, false, true},  // at Widen: wide at once
		{0.9, false, false},
		{0.0, false, false},
		{0.0, false, false},
		{0.0, true, true},
	} {
		narrow, move := p.step(s.used)
		if narrow != s.narrow || move != s.move {
			t.Fatalf("then window %d (%.2f cores): narrow %v, change %v; want %v, %v", i, s.used, narrow, move, s.narrow, s.move)
		}
	}
}

// TestStartFollowsCPU drives the loop with a fake CPU clock: it narrows
// and widens as the CPU used says, and at the end leaves the default.
func TestStartFollowsCPU(t *testing.T) {
	var (
		mu    sync.Mutex
		clock time.Time
		used  float64
		sets  []bool
	)
	perWindow := 0.0 // cores used per window from now on
	cpu := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return used
	}
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		// Each reading is one window later, with perWindow cores used.
		clock = clock.Add(time.Second)
		used += perWindow
		return clock
	}
	set := func(narrow bool) {
		mu.Lock()
		defer mu.Unlock()
		sets = append(sets, narrow)
	}
	setsNow := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), sets...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := start(ctx, Policy{Window: time.Millisecond, Narrow: 0.2, NarrowAfter: 2, Widen: 0.5}, cpu, set, now)
	await.True(t, "narrowed while idle", func() bool { return len(setsNow()) == 1 })
	mu.Lock()
	perWindow = 0.8
	mu.Unlock()
	await.True(t, "widened under load", func() bool { return len(setsNow()) == 2 })
	mu.Lock()
	perWindow = 0
	mu.Unlock()
	await.True(t, "narrowed again", func() bool { return len(setsNow()) == 3 })
	cancel()
	<-done
	got := setsNow()
	want := []bool{true, false, true, false}
	if len(got) != len(want) {
		t.Fatalf("settings %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("settings %v, want %v", got, want)
		}
	}
}

// TestSetNarrow: the real setting goes to one P and back to the
// runtime's default.
func TestSetNarrow(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	setNarrow(true)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("narrow: GOMAXPROCS %d, want 1", got)
	}
	setNarrow(false)
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("wide: GOMAXPROCS %d, want the default %d", got, def)
	}
}

// TestCPUSeconds reads a clock that moves with work done.
func TestCPUSeconds(t *testing.T) {
	before := cpuSeconds()
	x := 0
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	if after := cpuSeconds(); after <= before {
		t.Errorf("CPU seconds %v then %v after 50 ms of work (%d)", before, after, x)
	}
}
