package once

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
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

// view is a probe of entry web at address, with thresholds 1/2 and the
// results given (S success, F failure) applied.
func view(kind probe.Kind, address, results string) state.View {
	at := time.Now()
	rec := state.Record{Machine: state.NewMachine(kind, 1, 2, at)}
	for _, r := range results {
		o := prober.Outcome{Result: prober.Success}
		if r == 'F' {
			o = prober.Outcome{Result: prober.Failure, Output: "HTTP probe failed with statuscode: 503"}
		}
		rec.Apply(o, time.Millisecond, at)
	}
	names := series.NewNames([]string{"target", "kind", "address"})
	return state.View{Entry: "web", Key: address, Kind: kind, Handler: prober.HTTPGet, SuccessThreshold: 1, FailureThreshold: 2,
		Labels: series.New(names, []string{"web", kind.String(), address}), Record: rec}
}

// TestRun: Run answers once every probe has settled (or cannot run,
// behind a startup probe that failed), only after discovery is synced;
// at the deadline, what has no answer says so.
func TestRun(t *testing.T) {
	t.Parallel()
	settled := state.Fixed{
		view(probe.Readiness, "10.0.0.1:80", "S"),
		view(probe.Readiness, "10.0.0.2:80", "FF"),
		view(probe.Startup, "10.0.0.3:80", "FF"),
		view(probe.Liveness, "10.0.0.3:80", ""), // behind the failed startup probe
	}
	// Discovery syncs after a few polls: nothing is answered before.
	var polls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs := Run(ctx, settled, func() bool { return polls.Add(1) > 3 }, time.Millisecond)
	if polls.Load() < 4 {
		t.Errorf("answered after %d polls, before discovery was synced", polls.Load())
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Address+" "+r.Kind+" "+r.State+" "+inARow(r)+" "+r.Reason)
	}
	want := []string{
		"10.0.0.1:80 readiness success 1 of 1 success ",
		"10.0.0.2:80 readiness failure 2 of 2 failures HTTP probe failed with statuscode: 503",
		"10.0.0.3:80 liveness unknown - not run: the startup probe has not succeeded",
		"10.0.0.3:80 startup failure 2 of 2 failures HTTP probe failed with statuscode: 503",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || ExitCode(rs) != 1 {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// No answer by the deadline.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	rs = Run(ctx, state.Fixed{view(probe.Readiness, "10.0.0.4:80", "F")}, func() bool { return true }, time.Millisecond)
	if len(rs) != 1 || rs[0].State != "unknown" || rs[0].Reason != "no answer in 30ms (1 of 2 failures): HTTP probe failed with statuscode: 503" {
		t.Errorf("at the deadline: %+v", rs)
	}
}
