package state

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
)

const (
	S = Success
	F = Failure
	U = Unknown
)

type step struct {
	in   Value // result observed
	want Value // thresholded value after it
	run  int32 // resultRun after it; -1 = don't check
	hold bool
}

// TestMachine replays the kubelet's worker_test.go sequences (semantics
// doc §8.5) and then our adapted cases, where the kubelet would hold the
// worker waiting for a container restart.
func TestMachine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		kind    probe.Kind
		s, f    int32
		initial Value
		steps   []step
	}{
		{"TestFailureThreshold", probe.Readiness, 1, 3, F, []step{
			{S, S, 1, false}, {S, S, 2, false}, {S, S, 3, false},
			{F, S, 1, false}, {F, S, 2, false},
			{F, F, 3, false}, {F, F, 4, false},
		}},
		{"TestSuccessThreshold", probe.Readiness, 3, 1, F, []step{
			{S, F, 1, false}, {S, F, 2, false}, {S, S, 3, false},
			{F, F, 1, false},
		}},
		{"TestResultRunOnLivenessCheckFailure", probe.Liveness, 1, 3, S, []step{
			{S, S, 1, false}, {F, S, 1, false}, {F, S, 2, false},
			{F, F, 3, false}, // kubelet: Failure, run reset to 0, on hold; here the count goes on
			{F, F, 4, false},
		}},
		{"TestStartupProbeFailureThreshold", probe.Startup, 1, 3, U, []step{
			{F, U, 1, false}, {F, U, 2, false},
			{F, F, 3, false}, // kubelet: Failure, run 0, on hold (container restarts); here 3
		}},
		{"TestStartupProbeSuccessThreshold", probe.Startup, 1, 1, U, []step{
			{S, S, 0, true},
		}},
		{"TestOnHoldOnLivenessCheckFailure", probe.Liveness, 1, 1, S, []step{
			{F, F, 1, false}, // kubelet: run 0, on hold
		}},
		{"TestOnHoldOnStartupCheckFailure", probe.Startup, 1, 1, U, []step{
			{F, F, 1, false}, // kubelet: run 0, on hold
		}},
		{"TestStartupProbeDisabledByStarted (startup part)", probe.Startup, 1, 2, U, []step{
			{F, U, 1, false}, {S, S, 0, true},
		}},
		// Adapted: no container to restart, so liveness keeps probing after
		// Failure, keeps counting (no saw-tooth), and recovers at
		// successThreshold (always 1 for liveness).
		{"adapted: liveness recovers", probe.Liveness, 1, 2, S, []step{
			{F, S, 1, false}, {F, F, 2, false}, {F, F, 3, false}, {F, F, 4, false},
			{S, S, 1, false}, {F, S, 1, false}, {F, F, 2, false},
		}},
		// Adapted: a startup probe that reached its failure threshold keeps
		// probing (the kubelet would restart the container and start over)
		// and is done once it succeeds.
		{"adapted: startup fails then starts", probe.Startup, 1, 2, U, []step{
			{F, U, 1, false}, {F, F, 2, false}, {F, F, 3, false}, {S, S, 0, true},
		}},
		{"readiness never holds or resets", probe.Readiness, 2, 2, F, []step{
			{S, F, 1, false}, {S, S, 2, false}, {S, S, 3, false},
			{F, S, 1, false}, {F, F, 2, false}, {F, F, 3, false}, {S, F, 1, false},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMachine(c.kind, c.s, c.f, time.Unix(0, 0))
			if m.Value() != c.initial || Initial(c.kind) != c.initial {
				t.Fatalf("initial value %v, want %v", m.Value(), c.initial)
			}
			for i, st := range c.steps {
				m.Observe(st.in, time.Unix(int64(i+1), 0))
				_, run := m.Run()
				if m.Value() != st.want || (st.run >= 0 && run != st.run) || m.OnHold() != st.hold {
					t.Fatalf("step %d (%v): value %v run %d hold %v; want %v run %d hold %v",
						i, st.in, m.Value(), run, m.OnHold(), st.want, st.run, st.hold)
				}
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	since := time.Unix(100, 0)
	m := NewMachine(probe.Readiness, 1, 1, since)
	if n, at := m.Transitions(); n != 0 || !at.Equal(since) {
		t.Fatalf("fresh: %d %v", n, at)
	}
	if !m.Observe(S, time.Unix(101, 0)) || m.Observe(S, time.Unix(102, 0)) {
		t.Fatal("changed should be reported once")
	}
	m.Observe(F, time.Unix(103, 0))
	if n, at := m.Transitions(); n != 2 || at.Unix() != 103 {
		t.Fatalf("after F,S,F: %d %v", n, at)
	}
}

// TestRecordDiscardsErrors: an errored outcome is counted but moves
// neither the value nor the run, so F, error, F is two consecutive failures.
func TestRecordDiscardsErrors(t *testing.T) {
	t.Parallel()
	r := Record{Machine: NewMachine(probe.Liveness, 1, 2, time.Unix(0, 0))}
	now := time.Unix(1, 0)
	r.Apply(prober.Outcome{Result: prober.Failure}, time.Millisecond, now)
	r.Apply(prober.Outcome{Result: prober.Unknown, Err: errors.New("port")}, time.Millisecond, now)
	if r.Value() != Success || r.Errors != 1 || r.LastSuccess {
		t.Fatalf("after F, error: %v errors=%d", r.Value(), r.Errors)
	}
	r.Apply(prober.Outcome{Result: prober.Failure}, time.Millisecond, now)
	if r.Value() != Failure || r.Failures != 2 {
		t.Fatalf("after F, error, F: %v failures=%d", r.Value(), r.Failures)
	}
	// A warning (unfollowed redirect) counts as success.
	r.Apply(prober.Outcome{Result: prober.Warning, StatusCode: 302}, time.Millisecond, now)
	if r.Value() != Success || !r.LastSuccess || r.LastStatusCode != 302 || r.Successes != 1 {
		t.Fatalf("after warning: %+v", r)
	}
	// Unknown without an error is a failure.
	if ResultValue(prober.Unknown) != Failure {
		t.Fatal("unknown without error must map to Failure")
	}
}

func TestRecordReasonAndHistory(t *testing.T) {
	t.Parallel()
	var r Record
	r.Machine = NewMachine(probe.Readiness, 1, 1, time.Unix(0, 0))
	r.Apply(prober.Outcome{Result: prober.Failure, Output: "HTTP probe failed with statuscode: 500"}, time.Millisecond, time.Unix(1, 0))
	if r.LastReason != "HTTP probe failed with statuscode: 500" {
		t.Errorf("reason %q", r.LastReason)
	}
	r.Apply(prober.Outcome{Result: prober.Success, Output: strings.Repeat("é", 200)}, time.Millisecond, time.Unix(2, 0))
	if r.LastReason != "" || len(r.LastOutput) > MaxOutput || !utf8.ValidString(r.LastOutput) {
		t.Errorf("after success: reason %q, output %d bytes", r.LastReason, len(r.LastOutput))
	}
	r.Apply(prober.Outcome{Result: prober.Unknown, Err: errors.New(`unable to find port "http"`)}, 2*time.Second, time.Unix(3, 0))
	if r.LastReason != `unable to find port "http"` {
		t.Errorf("error reason %q", r.LastReason)
	}
	var got []uint8
	for _, p := range r.History() {
		got = append(got, p.Result)
	}
	if !reflect.DeepEqual(got, []uint8{HistoryFailure, HistorySuccess, HistoryError}) {
		t.Errorf("history %v", got)
	}
	if h := r.History(); !near(h[0].Took, time.Millisecond) || !near(h[2].Took, 2*time.Second) {
		t.Errorf("history's durations %v", h)
	}
	for i := 0; i < 30; i++ {
		r.Apply(prober.Outcome{Result: prober.Success}, time.Duration(i)*time.Millisecond, time.Unix(4, 0))
	}
	h := r.History()
	if len(h) != HistoryLen || h[0].Result != HistorySuccess {
		t.Errorf("history after 33 results: %v", h)
	}
	// The newest last: the 30 successes took 0..29 ms.
	for i, p := range h {
		if want := time.Duration(10+i) * time.Millisecond; !near(p.Took, want) {
			t.Errorf("history[%d] took %v, want about %v", i, p.Took, want)
		}
	}
}

// near: d is what a kept duration of want can be.
func near(d, want time.Duration) bool {
	return math.Abs(float64(d)/float64(want)-1) <= DurationPrecision
}

// TestHistoryDurations: a kept duration is within DurationPrecision of
// what was measured between the floor and the ceiling, the floor or the
// ceiling outside them, and the order of two durations is kept but
// where they share a code.
func TestHistoryDurations(t *testing.T) {
	t.Parallel()
	kept := func(d time.Duration) time.Duration {
		var r Record
		r.remember(HistorySuccess, d)
		return r.History()[0].Took
	}
	prev := time.Duration(0)
	for d := durationFloor; d <= DurationCeiling; d = d * 21 / 20 {
		got := kept(d)
		if !near(got, d) {
			t.Errorf("%v kept as %v", d, got)
		}
		if got < prev {
			t.Errorf("%v kept as %v, below a shorter one's %v", d, got, prev)
		}
		prev = got
	}
	for _, c := range []struct{ d, want time.Duration }{
		{0, durationFloor}, {-time.Second, durationFloor}, {time.Microsecond, durationFloor},
		{time.Minute, DurationCeiling}, {math.MaxInt64, DurationCeiling},
	} {
		if got := kept(c.d); got != c.want {
			t.Errorf("%v kept as %v, want %v", c.d, got, c.want)
		}
	}
	if DurationCeiling < 20*time.Second {
		t.Errorf("the ceiling %v is below 20 s", DurationCeiling)
	}
}

// TestRecordSize: a Record is in every scheduler worker (100k of them
// in a normal load); its history and small fields fill whole words.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(Record{}); n != 136 {
		t.Errorf("a Record is %d bytes, want 136", n)
	}
}

// TestLastFacts: the last status code and lookup time as kept.
func TestLastFacts(t *testing.T) {
	t.Parallel()
	var r Record
	r.Apply(prober.Outcome{Result: prober.Success, StatusCode: 599, LookedUp: true, Lookup: 1234567 * time.Nanosecond}, time.Millisecond, time.Unix(1, 0))
	if r.LastStatusCode != 599 || r.LastLookup() != 1235*time.Microsecond {
		t.Errorf("status %d, lookup %v", r.LastStatusCode, r.LastLookup())
	}
	r.Apply(prober.Outcome{Result: prober.Success, StatusCode: 1 << 20, LookedUp: true, Lookup: 1 << 62}, time.Millisecond, time.Unix(1, 0))
	if r.LastStatusCode != math.MaxInt16 || r.LastLookup() != math.MaxUint32*time.Microsecond {
		t.Errorf("beyond their range: status %d, lookup %v", r.LastStatusCode, r.LastLookup())
	}
}

func TestSettled(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	for _, c := range []struct {
		name    string
		kind    probe.Kind
		results []Value
		settled bool
		value   Value
	}{
		{"nothing yet", probe.Readiness, nil, false, Failure},
		{"one failure of three", probe.Readiness, []Value{Failure}, false, Failure},
		{"three failures", probe.Readiness, []Value{Failure, Failure, Failure}, true, Failure},
		{"one success of one", probe.Readiness, []Value{Success}, true, Success},
		{"failure after success, below its threshold", probe.Readiness, []Value{Success, Failure}, false, Success},
		{"liveness alive", probe.Liveness, []Value{Success}, true, Success},
		{"startup succeeded (on hold)", probe.Startup, []Value{Failure, Success}, true, Success},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMachine(c.kind, 1, 3, now)
			for _, r := range c.results {
				m.Observe(r, now)
			}
			if m.Settled() != c.settled || m.Value() != c.value {
				t.Errorf("settled %v value %v, want %v %v", m.Settled(), m.Value(), c.settled, c.value)
			}
		})
	}
}

// TestReasonTrimmed: a command's trailing newline is in its output, not
// in its reason (a log line, a table row, a status page).
func TestReasonTrimmed(t *testing.T) {
	t.Parallel()
	r := Record{Machine: NewMachine(probe.Liveness, 1, 1, time.Now())}
	r.Apply(prober.Outcome{Result: prober.Failure, Output: "it broke\r\n"}, time.Millisecond, time.Now())
	if r.LastReason != "it broke" || r.LastOutput != "it broke\r\n" {
		t.Errorf("reason %q, output %q", r.LastReason, r.LastOutput)
	}
}
