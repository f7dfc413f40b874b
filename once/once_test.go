package once

import (
	"testing"
	"time"
)

// TestHuman: a duration reads as people read one in a table (a 336 µs
// attempt read "0s").
func TestHuman(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{336 * time.Microsecond, "336µs"},
		{336*time.Microsecond + 400*time.Nanosecond, "336µs"},
		{2345 * time.Microsecond, "2.3ms"},
		{999 * time.Millisecond, "999ms"},
		{1234 * time.Millisecond, "1.23s"},
		{2 * time.Minute, "2m0s"},
		{0, "0s"},
	} {
		if got := Human(c.d); got != c.want {
			t.Errorf("Human(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestNoAnswer: a probe without an answer by the deadline says how long
// it had, how far its thresholds got, and its last reason.
func TestNoAnswer(t *testing.T) {
	for _, c := range []struct {
		waited time.Duration
		r      Result
		want   string
	}{
		{2 * time.Minute, Result{Result: "failure", InARow: 1, Threshold: 3, Reason: "dial tcp 10.0.0.1:80: i/o timeout"},
			"no answer in 2m0s (1 of 3 failures): dial tcp 10.0.0.1:80: i/o timeout"},
		{30 * time.Second, Result{Result: "success", InARow: 1, Threshold: 2}, "no answer in 30s (1 of 2 successes)"},
		{30 * time.Second, Result{Threshold: 3}, "no answer in 30s (no attempt finished)"},
		{0, Result{Result: "failure", InARow: 2, Threshold: 3, Reason: "x"}, "no answer yet from the thresholds (2 of 3 failures): x"},
	} {
		if got := noAnswer(c.waited, c.r); got != c.want {
			t.Errorf("noAnswer(%v, %+v) = %q, want %q", c.waited, c.r, got, c.want)
		}
	}
}
