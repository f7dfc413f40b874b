package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
)

// TestGOGC: an idle exporter collects at GOGC=50 (gcpace's floor: the
// rate it allocates at asks for no more) unless the environment says
// otherwise, and then it is the environment's.
func TestGOGC(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want float64
	}{{"", 50}, {"100", 100}, {"200", 200}} {
		t.Run("GOGC="+tc.env, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("GOGC", tc.env)
			}
			e := start(t)
			if v, ok := value(e.scrape(t), "go_gc_gogc_percent", nil); !ok || v != tc.want {
				t.Errorf("go_gc_gogc_percent %v (found %v), want %v", v, ok, tc.want)
			}
		})
	}
}

// TestFreeAfterFirstSync: the first lists' garbage is handed back once,
// when discovery first syncs; never for sources synced from the start;
// and the wait ends with the process.
func TestFreeAfterFirstSync(t *testing.T) {
	var frees atomic.Int32
	free := func() { frees.Add(1) }

	freeAfterFirstSync(context.Background(), func() bool { return true }, free)
	if frees.Load() != 0 {
		t.Error("freed for sources synced from the start")
	}

	var checks atomic.Int32
	syncedLater := func() bool { return checks.Add(1) > 3 } // not at first, then yes
	freeAfterFirstSync(context.Background(), syncedLater, free)
	if frees.Load() != 1 {
		t.Errorf("freed %d times once synced, want once", frees.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); freeAfterFirstSync(ctx, func() bool { return false }, free) }()
	cancel()
	await.True(t, "the wait ends with its context", func() bool {
		select {
		case <-done:
			return true
		case <-time.After(time.Millisecond):
			return false
		}
	})
}
