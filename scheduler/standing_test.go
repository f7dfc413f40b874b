package scheduler

import (
	"testing"
	"time"
)

// TestStandingQueue: ticks expire at a whole period, until a whole window
// passes in which no probe started fresh (within a tenth of its period);
// then from a tenth on, until a window has one start fresh again. A window
// in which nothing started keeps the verdict.
func TestStandingQueue(t *testing.T) {
	const p = time.Second
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var q standingQueue
	type step struct {
		now         time.Duration
		late        time.Duration
		wantExpired bool
	}
	for i, st := range []step{
		// A burst: late starts, but the first window also had a fresh one.
		{0, 0, false},
		{100 * time.Millisecond, 500 * time.Millisecond, false},
		{900 * time.Millisecond, 990 * time.Millisecond, false},
		{time.Second, p, true}, // a whole period: always
		// The second window: every start over a tenth late.
		{1100 * time.Millisecond, 300 * time.Millisecond, false},
		{1900 * time.Millisecond, 400 * time.Millisecond, false},
		// The third window knows the queue stood: a fifth of a period expires.
		{2000 * time.Millisecond, 200 * time.Millisecond, true},
		{2100 * time.Millisecond, 50 * time.Millisecond, false}, // fresh
		// The fourth: the third had a fresh start.
		{3000 * time.Millisecond, 200 * time.Millisecond, false},
		// The fifth: the fourth's one start was a fifth of a period late,
		// so the queue stood again.
		{4000 * time.Millisecond, 150 * time.Millisecond, true},
		// Nothing starts for two windows: the verdict stays.
		{7000 * time.Millisecond, 150 * time.Millisecond, true},
	} {
		got := q.expired(at(st.now), st.late, p)
		if got != st.wantExpired {
			t.Fatalf("step %d (at %v, %v late): expired %v, want %v", i, st.now, st.late, got, st.wantExpired)
		}
		if !got {
			q.started(st.late, p)
		}
	}
}
