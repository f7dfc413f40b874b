package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeProber returns what result() says and counts calls; block makes
// calls wait for release or their context.
type fakeProber struct {
	calls   atomic.Int64
	mu      sync.Mutex
	outcome prober.Outcome
	block   chan struct{}
	seen    []string // hosts and PROBE_X of every call
}

func (f *fakeProber) set(o prober.Outcome) {
	f.mu.Lock()
	f.outcome = o
	f.mu.Unlock()
}

func (f *fakeProber) Probe(ctx context.Context, t *prober.Target) prober.Outcome {
	f.calls.Add(1)
	f.mu.Lock()
	f.seen = append(f.seen, t.Host+t.Vars["PROBE_X"])
	f.mu.Unlock()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return prober.Outcome{Result: prober.Failure, Output: "cancelled"}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outcome
}
func (f *fakeProber) Address(t *prober.Target) string { return t.Host }

func (f *fakeProber) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		return ""
	}
	return f.seen[len(f.seen)-1]
}
func (f *fakeProber) Type() prober.Type { return prober.TCPSocket }

var names = series.NewNames([]string{"target", "kind", "address"})

func spec(kind probe.Kind, p prober.Prober, period time.Duration) Spec {
	return Spec{
		Kind: kind, Prober: p, Target: &prober.Target{Host: "h"},
		Period: period, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 1,
		Entry: "e", Labels: series.New(names, []string{"e", kind.String(), "h"}), Identity: kind.String(),
	}
}

// harness runs a scheduler until the test ends and waits for it to stop.
func harness(t *testing.T, o Options) (*Scheduler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := New(o, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, reg
}

// pastStartup puts the scheduler beyond its first period, where new
// targets are probed at once rather than jittered.
func pastStartup(s *Scheduler) {
	s.mu.Lock()
	s.started = s.started.Add(-24 * time.Hour)
	s.queue.base = s.started // what planned starts are offsets from
	s.mu.Unlock()
}

func records(s *Scheduler) map[string]state.Record {
	out := map[string]state.Record{}
	s.Each(func(st *state.View) { out[st.Key+"/"+st.Kind.String()] = st.Record })
	return out
}

func TestPeriodAndThresholds(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	sp := spec(probe.Readiness, p, 20*time.Millisecond)
	sp.SuccessThreshold, sp.FailureThreshold = 2, 3
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{sp}}})
	await.True(t, "readiness to become Success after 2 successes", func() bool {
		return records(s)["a/readiness"].Value() == state.Success
	})
	p.set(prober.Outcome{Result: prober.Failure})
	await.True(t, "3 failures to flip it", func() bool { return records(s)["a/readiness"].Value() == state.Failure })
	r := records(s)["a/readiness"]
	if n, _ := r.Transitions(); n != 2 || r.Failures < 3 || r.Successes < 2 {
		t.Errorf("transitions %d, successes %d, failures %d", n, r.Successes, r.Failures)
	}
}

func TestErrorsAreDiscarded(t *testing.T) {
	s, reg := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Unknown, Err: errors.New("no port")}}
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{spec(probe.Readiness, p, 20*time.Millisecond)}}})
	await.True(t, "two discarded ticks", func() bool { return records(s)["a/readiness"].Errors >= 2 })
	r := records(s)["a/readiness"]
	if r.Value() != state.Failure || r.Successes+r.Failures != 0 {
		t.Errorf("an errored probe moved the state: %+v", r)
	}
	// Each tick made MaxRetries attempts.
	if got := testutil.ToFloat64(s.attempts.WithLabelValues("tcpSocket", "error")); got < 2*prober.MaxRetries {
		t.Errorf("attempts %v", got)
	}
	_ = reg
}

func TestStartupGatesOthers(t *testing.T) {
	s, _ := harness(t, Options{})
	startup := &fakeProber{outcome: prober.Outcome{Result: prober.Failure}}
	live := &fakeProber{outcome: prober.Outcome{Result: prober.Failure}}
	ready := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{
		spec(probe.Startup, startup, 10*time.Millisecond),
		spec(probe.Liveness, live, 10*time.Millisecond),
		spec(probe.Readiness, ready, 10*time.Millisecond),
	}}})
	await.True(t, "startup to fail a few times", func() bool { return startup.calls.Load() >= 3 })
	if live.calls.Load() != 0 || ready.calls.Load() != 0 {
		t.Fatalf("probes ran before startup succeeded: liveness %d readiness %d", live.calls.Load(), ready.calls.Load())
	}
	rs := records(s)
	if rs["a/liveness"].Value() != state.Success || rs["a/readiness"].Value() != state.Failure || rs["a/startup"].Value() != state.Failure {
		t.Fatalf("gated probes should stay at their initial values: %v %v %v",
			rs["a/liveness"].Value(), rs["a/readiness"].Value(), rs["a/startup"].Value())
	}
	startup.set(prober.Outcome{Result: prober.Success})
	await.True(t, "readiness and liveness to run once started", func() bool {
		rs := records(s)
		return rs["a/readiness"].Value() == state.Success && rs["a/liveness"].Value() == state.Failure
	})
	// A startup probe that succeeded is done.
	n := startup.calls.Load()
	await.True(t, "more readiness runs", func() bool { return ready.calls.Load() >= 5 })
	if startup.calls.Load() != n {
		t.Errorf("startup kept probing after success: %d -> %d", n, startup.calls.Load())
	}
}

func TestInitialDelay(t *testing.T) {
	s, _ := harness(t, Options{})
	delayed := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	other := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	sp := spec(probe.Liveness, delayed, 10*time.Millisecond)
	sp.InitialDelay = time.Hour
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{sp}}, {Key: "b", Specs: []Spec{spec(probe.Liveness, other, 10*time.Millisecond)}}})
	await.True(t, "the undelayed target to run", func() bool { return other.calls.Load() >= 5 })
	if delayed.calls.Load() != 0 {
		t.Fatalf("probed during initialDelaySeconds")
	}
	if r := records(s)["a/liveness"]; r.Value() != state.Success || r.Attempted {
		t.Errorf("delayed liveness should sit at its initial value: %+v", r)
	}
}

func TestMaxInFlight(t *testing.T) {
	s, reg := harness(t, Options{MaxInFlight: 2})
	pastStartup(s)
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}, block: make(chan struct{})}
	var ts []Target
	for i := 0; i < 10; i++ {
		ts = append(ts, Target{Key: fmt.Sprint(i), Specs: []Spec{spec(probe.Readiness, p, time.Hour)}})
	}
	syncT(s, "src", ts)
	gauge := func(name string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	await.True(t, "2 in flight and 8 waiting", func() bool {
		return gauge("probe_exporter_probes_in_flight") == 2 && gauge("probe_exporter_probes_waiting") == 8 && p.calls.Load() >= 2
	})
	if p.calls.Load() != 2 {
		t.Fatalf("%d probes started with a bound of 2", p.calls.Load())
	}
	close(p.block)
	await.True(t, "all 10 to run", func() bool {
		n := 0
		for _, r := range records(s) {
			if r.Attempted {
				n++
			}
		}
		return n == 10
	})
	if gauge("probe_exporter_probes_waiting") != 0 || gauge("probe_exporter_probes_in_flight") != 0 {
		t.Error("gauges did not drain")
	}
}

func TestSyncKeepsUnchangedAndStopsRemoved(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	keep := Target{Key: "keep", Specs: []Spec{spec(probe.Readiness, p, 10*time.Millisecond)}}
	gone := Target{Key: "gone", Specs: []Spec{spec(probe.Readiness, p, 10*time.Millisecond)}}
	changed := Target{Key: "changed", Specs: []Spec{spec(probe.Readiness, p, 10*time.Millisecond)}}
	syncT(s, "src", []Target{keep, gone, changed})
	await.True(t, "all three to be ready", func() bool {
		rs := records(s)
		return rs["keep/readiness"].Successes >= 2 && rs["gone/readiness"].Successes >= 2 && rs["changed/readiness"].Successes >= 2
	})
	// A long period: the new worker runs once, at once, and not again.
	pastStartup(s)
	changed.Specs = []Spec{spec(probe.Readiness, p, time.Hour)}
	changed.Specs[0].Identity = "new definition"
	before := records(s)["keep/readiness"]
	syncT(s, "src", []Target{keep, changed})
	rs := records(s)
	if _, ok := rs["gone/readiness"]; ok {
		t.Error("removed target still reported")
	}
	if rs["keep/readiness"].Successes < before.Successes || rs["keep/readiness"].Value() != state.Success {
		t.Errorf("unchanged target lost its state: %+v", rs["keep/readiness"])
	}
	if r := rs["changed/readiness"]; r.Successes > 1 {
		t.Errorf("changed definition kept old state: %+v", r)
	}
	syncT(s, "src", nil)
	if n := len(records(s)); n != 0 {
		t.Errorf("%d probes left after removing the source", n)
	}
}

func TestRemoveCancelsRunningProbe(t *testing.T) {
	s, reg := harness(t, Options{})
	pastStartup(s)
	p := &fakeProber{block: make(chan struct{})} // never released: only cancellation ends it
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{spec(probe.Readiness, p, time.Hour)}}})
	await.True(t, "the probe to start", func() bool { return p.calls.Load() == 1 })
	syncT(s, "src", nil)
	await.True(t, "the probe to be cancelled", func() bool {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "probe_exporter_probes_in_flight" {
				return mf.GetMetric()[0].GetGauge().GetValue() == 0
			}
		}
		return false
	})
}

func TestNextTick(t *testing.T) {
	base := time.Unix(1000, 0)
	p := 10 * time.Second
	for _, c := range []struct {
		now  time.Duration // since base
		want time.Duration
	}{
		{1 * time.Second, 10 * time.Second},  // probe took 1 s: next tick
		{10 * time.Second, 10 * time.Second}, // exactly on the tick: run it now
		{25 * time.Second, 20 * time.Second}, // overran: the last tick passed, phase kept
	} {
		if got := nextTick(base, p, base.Add(c.now)).Sub(base); got != c.want {
			t.Errorf("now=+%v: next=+%v, want +%v", c.now, got, c.want)
		}
	}
}

func TestStartupJitterSpreadsFirstProbes(t *testing.T) {
	s := New(Options{}, nil)
	var ts []Target
	for i := 0; i < 1000; i++ {
		ts = append(ts, Target{Key: fmt.Sprint(i), Specs: []Spec{spec(probe.Readiness, &fakeProber{}, 10*time.Second)}})
	}
	syncT(s, "src", ts)
	lo, hi := s.queue.first().next, s.queue.first().next
	for _, e := range s.queue.e {
		lo, hi = min(lo, e.w.next), max(hi, e.w.next)
	}
	// 1000 uniform draws over 10 s: the spread is nearly the whole period.
	if spread := hi - lo; spread < 5*time.Second {
		t.Errorf("first probes spread over %v only", spread)
	}
	// After the first period, new targets are probed at once.
	s.started = s.started.Add(-time.Minute)
	s.queue.base = s.started
	syncT(s, "later", []Target{{Key: "x", Specs: []Spec{spec(probe.Readiness, &fakeProber{}, 10*time.Second)}}})
	for _, e := range s.queue.e {
		if w := e.w; w.t.key == "x" && s.at(w.next).After(time.Now()) {
			t.Errorf("a target added after start-up waits until %v", s.at(w.next))
		}
	}
}

// TestLabelsChangeKeepsState: an endpoint whose labels change (it turned
// ready, say) keeps its identity and so its threshold state; its series
// carry the new labels.
func TestLabelsChangeKeepsState(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	sp := spec(probe.Readiness, p, 10*time.Millisecond)
	syncT(s, "src", []Target{{Key: "ep", Specs: []Spec{sp}}})
	await.True(t, "two successes", func() bool { return records(s)["ep/readiness"].Successes >= 2 })

	relabeled := sp
	relabeled.Labels = series.New(series.NewNames([]string{"target", "kind", "address", "ready"}), []string{"e", "readiness", "h", "false"})
	syncT(s, "src", []Target{{Key: "ep", Specs: []Spec{relabeled}}})
	var got state.View
	s.Each(func(st *state.View) { got = *st })
	if got.Labels.Text() != `address="ep",kind="readiness",ready="false",target="e"` {
		t.Errorf("series labels %q", got.Labels.Text())
	}
	if got.Record.Successes < 2 || got.Record.Value() != state.Success {
		t.Errorf("state lost on a label change: %+v", got.Record)
	}
}

// syncT is Sync with each target's address set from its key, as discovery
// gives distinct targets distinct addresses (and so distinct series).
func syncT(s *Scheduler, src string, ts []Target) {
	for i := range ts {
		for j := range ts[i].Specs {
			sp := &ts[i].Specs[j]
			values := slices.Clone(sp.Labels.Values)
			values[series.AddressLabel] = ts[i].Key
			sp.Labels = series.New(sp.Labels.Names, values)
			sp.Target = &prober.Target{Host: ts[i].Key}
		}
	}
	s.Sync(src, ts)
}

// TestAddressChangeIsANewProbe: a target that keeps its key but whose
// address changes (a relabelled __address__, a named port renumbered) is a
// new probe: the next attempt goes to the new address, and its series
// start afresh instead of carrying the old address's state.
func TestAddressChangeIsANewProbe(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	sp := spec(probe.Readiness, p, 10*time.Millisecond)
	withAddr := func(addr string) Spec {
		o := sp
		o.Target = &prober.Target{Host: addr}
		o.Labels = series.New(names, []string{"e", "readiness", addr})
		return o
	}
	s.Sync("src", []Target{{Key: "ep", Specs: []Spec{withAddr("old:1")}}})
	await.True(t, "two successes at the old address", func() bool { return records(s)["ep/readiness"].Successes >= 2 })
	s.Sync("src", []Target{{Key: "ep", Specs: []Spec{withAddr("new:2")}}})
	await.True(t, "a probe of the new address", func() bool { return p.last() == "new:2" })
	var got []state.View
	s.Each(func(st *state.View) { got = append(got, *st) })
	if len(got) != 1 || got[0].Labels.Address() != "new:2" || targetHosts(s)[0] != "new:2" {
		t.Fatalf("after the change: %+v", got)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.seen {
		if h == "old:1" && slices.Contains(p.seen[:i], "new:2") {
			t.Fatalf("the old address was probed after the new one: %v", p.seen)
		}
	}
}

// TestTargetDetailsChangeInPlace: details that don't change the address
// (an exec probe's variables) take effect with the next attempt and keep
// the probe's state.
func TestTargetDetailsChangeInPlace(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	sp := spec(probe.Readiness, p, 10*time.Millisecond)
	sp.Labels = series.New(names, []string{"e", "readiness", "h"})
	sp.Target = &prober.Target{Host: "h", Vars: map[string]string{"PROBE_X": "1"}}
	s.Sync("src", []Target{{Key: "ep", Specs: []Spec{sp}}})
	await.True(t, "two successes", func() bool { return records(s)["ep/readiness"].Successes >= 2 })
	sp2 := sp
	sp2.Target = &prober.Target{Host: "h", Vars: map[string]string{"PROBE_X": "2"}}
	s.Sync("src", []Target{{Key: "ep", Specs: []Spec{sp2}}})
	await.True(t, "an attempt with the new variables", func() bool { return p.last() == "h2" })
	if r := records(s)["ep/readiness"]; r.Successes < 2 {
		t.Errorf("state lost: %+v", r)
	}
}

// TestOneProbeChangesOthersKeepState: editing one probe of a target
// restarts that probe only.
func TestOneProbeChangesOthersKeepState(t *testing.T) {
	s, _ := harness(t, Options{})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	ready, live := spec(probe.Readiness, p, 10*time.Millisecond), spec(probe.Liveness, p, 10*time.Millisecond)
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{ready, live}}})
	await.True(t, "both probed", func() bool {
		r := records(s)
		return r["a/readiness"].Successes >= 3 && r["a/liveness"].Successes >= 3
	})
	before := records(s)["a/readiness"].Successes
	live.Identity = "liveness, period changed"
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{ready, live}}})
	r := records(s)
	if r["a/readiness"].Successes < before {
		t.Errorf("readiness restarted: %d successes, had %d", r["a/readiness"].Successes, before)
	}
	if r["a/liveness"].Successes >= 3 {
		t.Errorf("the changed liveness probe kept its state: %+v", r["a/liveness"])
	}
}

// TestSameSeriesFromTwoSources: two sources yielding the same series (one
// endpoint in two EndpointSlices) run one probe; when the first source
// drops it, the other takes over.
func TestSameSeriesFromTwoSources(t *testing.T) {
	s, _ := harness(t, Options{})
	p1 := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	p2 := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	syncT(s, "slice-a", []Target{{Key: "10.0.0.1", Specs: []Spec{spec(probe.Readiness, p1, 10*time.Millisecond)}}})
	syncT(s, "slice-b", []Target{{Key: "10.0.0.1", Specs: []Spec{spec(probe.Readiness, p2, 10*time.Millisecond)}}})
	await.True(t, "the first probed", func() bool { return p1.calls.Load() >= 3 })
	n := 0
	s.Each(func(*state.View) { n++ })
	if n != 1 || p2.calls.Load() != 0 {
		t.Fatalf("%d series rendered, standby probed %d times", n, p2.calls.Load())
	}
	s.Sync("slice-a", nil)
	await.True(t, "the second took over", func() bool { return p2.calls.Load() >= 1 })
	n = 0
	s.Each(func(*state.View) { n++ })
	if n != 1 {
		t.Fatalf("%d series rendered", n)
	}
	if got := s.Targets(); got["e"] != 1 {
		t.Errorf("Targets: %v", got)
	}
}

func TestLogLimiter(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l logLimiter
	now := time.Unix(1000, 0)
	for i := 0; i < 200; i++ {
		l.log(log, now, "probe state changed", "i", i)
	}
	if n := strings.Count(buf.String(), "\n"); n != transitionLogBurst {
		t.Fatalf("%d lines at once, want %d", n, transitionLogBurst)
	}
	buf.Reset()
	l.log(log, now.Add(time.Second), "probe state changed")
	if !strings.Contains(buf.String(), "state_changes_not_logged=150") {
		t.Errorf("held-back count not said: %s", buf.String())
	}
}

// TestInjectedClock: the scheduler's clock is the one it is given: a
// probe's appearance and transitions are stamped with it.
func TestInjectedClock(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		offset += time.Millisecond // moves on, so timers and ticks advance
		return base.Add(offset)
	}
	s, _ := harness(t, Options{Now: now})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{spec(probe.Readiness, p, 10*time.Millisecond)}}})
	await.True(t, "a transition to success", func() bool { return records(s)["a/readiness"].Value() == state.Success })
	if _, at := records(s)["a/readiness"].Transitions(); at.Year() != 2030 {
		t.Errorf("transition stamped %v, not by the injected clock", at)
	}
}

// concurrencyProber holds every attempt until its timeout and records how
// many ran at once.
type concurrencyProber struct {
	calls, running, peak atomic.Int64
}

func (c *concurrencyProber) Probe(ctx context.Context, _ *prober.Target) prober.Outcome {
	c.calls.Add(1)
	n := c.running.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	<-ctx.Done() // a black hole: the attempt lasts its timeout
	c.running.Add(-1)
	return prober.Outcome{Result: prober.Failure, Output: "timeout"}
}
func (c *concurrencyProber) Address(t *prober.Target) string { return t.Host }
func (c *concurrencyProber) Type() prober.Type               { return prober.TCPSocket }

// TestFairShareUnderOverload: an entry of black-holed targets, each
// holding a slot for its whole timeout, may use what the others leave
// idle but never all of the bound: a slot stays free for each entry under
// its fair share, so a healthy entry keeps its own pace.
func TestFairShareUnderOverload(t *testing.T) {
	s, reg := harness(t, Options{MaxInFlight: 4})
	pastStartup(s)
	slow := &concurrencyProber{}
	fast := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	var slowTs, fastTs []Target
	for i := 0; i < 20; i++ {
		sp := spec(probe.Readiness, slow, 10*time.Millisecond)
		sp.Entry, sp.Timeout = "slow", 200*time.Millisecond
		sp.Labels = series.New(names, []string{"slow", "readiness", "h"})
		slowTs = append(slowTs, Target{Key: fmt.Sprint("s", i), Specs: []Spec{sp}})
	}
	for i := 0; i < 2; i++ {
		sp := spec(probe.Readiness, fast, 20*time.Millisecond)
		sp.Entry = "fast"
		sp.Labels = series.New(names, []string{"fast", "readiness", "h"})
		fastTs = append(fastTs, Target{Key: fmt.Sprint("f", i), Specs: []Spec{sp}})
	}
	// The healthy entry first: were the black-holed one alone for a
	// moment, its fair share would be the whole bound.
	syncT(s, "fast", fastTs)
	syncT(s, "slow", slowTs)
	await.True(t, "12 black-holed attempts", func() bool { return slow.calls.Load() >= 12 })
	if p := slow.peak.Load(); p != 3 {
		t.Errorf("the black-holed entry ran %d at once under a bound of 4 shared with one other entry, want 3 (one slot kept for the other)", p)
	}
	if n := fast.calls.Load(); n < 20 {
		t.Errorf("the healthy entry ran %d attempts while the black-holed one ran 12 (at least 4 rounds of 200 ms, 40 periods of 20 ms for 2 targets)", n)
	}
	// Waiting is shown per entry: the black-holed one waits, the healthy
	// one doesn't pile up.
	mfs, _ := reg.Gather()
	waiting := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "probe_exporter_probes_waiting" {
			for _, m := range mf.GetMetric() {
				waiting[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	// Waiting holds only ticks younger than their period: at most the
	// black-holed entry's 17 not running, the healthy one's 2.
	if waiting["slow"] > 17 || waiting["fast"] > 2 {
		t.Errorf("waiting by entry: %v, want at most 17 and 2", waiting)
	}
	// The black-holed entry's ticks that found no slot within their
	// 10 ms are skipped and counted; the healthy entry loses none.
	skipped := counterByTarget(t, reg, "probe_exporter_ticks_skipped_total")
	if skipped["slow"] == 0 || skipped["fast"] != 0 {
		t.Errorf("ticks skipped by entry: %v, want the black-holed entry's and none of the healthy one's", skipped)
	}
}

// counterByTarget reads a counter family by its target label.
func counterByTarget(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// busyProber holds its slot for d, like a slow target.
type busyProber struct {
	d     time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (b *busyProber) Probe(ctx context.Context, t *prober.Target) prober.Outcome {
	b.mu.Lock()
	b.calls[t.Host]++
	b.mu.Unlock()
	select {
	case <-time.After(b.d):
	case <-ctx.Done():
	}
	return prober.Outcome{Result: prober.Success}
}
func (b *busyProber) Address(t *prober.Target) string { return t.Host }
func (b *busyProber) Type() prober.Type               { return prober.TCPSocket }

// TestFreshnessUnderOverload: at four times what the slots can run, no
// probe starts a whole period late — a tick that can't start within its
// period is skipped and counted instead — and the skips rotate: every
// target keeps running.
func TestFreshnessUnderOverload(t *testing.T) {
	s, reg := harness(t, Options{MaxInFlight: 1})
	pastStartup(s)
	p := &busyProber{d: 10 * time.Millisecond, calls: map[string]int{}}
	const period = 50 * time.Millisecond
	var ts []Target
	for i := 0; i < 20; i++ { // 400 ticks a second for 100 runs a second
		ts = append(ts, Target{Key: fmt.Sprint("t", i), Specs: []Spec{spec(probe.Readiness, p, period)}})
	}
	syncT(s, "src", ts)
	await.True(t, "every target ran twice", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.calls) < len(ts) {
			return false
		}
		for _, n := range p.calls {
			if n < 2 {
				return false
			}
		}
		return true
	})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "probe_exporter_schedule_lateness_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == period.Seconds() && b.GetCumulativeCount() != h.GetSampleCount() {
				t.Errorf("%d of %d probes started more than a period late", h.GetSampleCount()-b.GetCumulativeCount(), h.GetSampleCount())
			}
		}
	}
	if n := counterByTarget(t, reg, "probe_exporter_ticks_skipped_total")["e"]; n == 0 {
		t.Error("no tick counted as skipped at four times the capacity")
	}
}

// TestEachShowsNextRun: a probe waiting for its tick shows when it runs
// next, within one period; a running one shows none.
func TestEachShowsNextRun(t *testing.T) {
	s, _ := harness(t, Options{})
	pastStartup(s)
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{spec(probe.Readiness, p, time.Hour)}}})
	await.True(t, "the first run", func() bool { return p.calls.Load() == 1 && records(s)["a/readiness"].Attempted })
	var next time.Time
	await.True(t, "a next run", func() bool {
		s.Each(func(st *state.View) { next = st.Next })
		return !next.IsZero()
	})
	if d := time.Until(next); d <= 0 || d > time.Hour {
		t.Errorf("next run in %v, want within the 1h period", d)
	}
	blocked := &fakeProber{block: make(chan struct{})}
	defer close(blocked.block)
	other := spec(probe.Readiness, blocked, time.Hour)
	other.Labels = series.New(names, []string{"e", "readiness", "h2"})
	syncT(s, "other", []Target{{Key: "b", Specs: []Spec{other}}})
	await.True(t, "the blocked probe running", func() bool { return blocked.calls.Load() == 1 })
	seen := false
	s.Each(func(st *state.View) {
		if st.Key == "b" {
			next, seen = st.Next, true
		}
	})
	if !seen || !next.IsZero() {
		t.Errorf("a running probe shows a next run at %v", next)
	}
}

// syncBuffer is a log sink the scheduler writes to while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFailingFromStartIsSaid: a readiness probe starts at failure, so one
// that fails from its first attempt never changes state; it is logged at
// info once, when it reaches its failure threshold, and not again. A
// probe that changes state is logged as a change, and only so.
func TestFailingFromStartIsSaid(t *testing.T) {
	var out syncBuffer
	s, _ := harness(t, Options{Logger: slog.New(slog.NewTextHandler(&out, nil))})
	pastStartup(s)
	down := &fakeProber{outcome: prober.Outcome{Result: prober.Failure, Output: "HTTP probe failed with statuscode: 503"}}
	sp := spec(probe.Readiness, down, 5*time.Millisecond)
	sp.FailureThreshold = 3
	up := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	syncT(s, "src", []Target{{Key: "down", Specs: []Spec{sp}}, {Key: "up", Specs: []Spec{spec(probe.Readiness, up, 5*time.Millisecond)}}})
	await.True(t, "ten attempts of each", func() bool { return down.calls.Load() >= 10 && up.calls.Load() >= 10 })
	logged := out.String()
	if n := strings.Count(logged, `msg="probe failing since it started"`); n != 1 || !strings.Contains(logged, `reason="HTTP probe failed with statuscode: 503"`) {
		t.Errorf("said %d times that it fails from the start, want once with its reason:\n%s", n, logged)
	}
	if n := strings.Count(logged, `msg="probe state changed"`); n != 1 || !strings.Contains(logged, "from=failure to=success") {
		t.Errorf("%d state changes logged, want the passing one's:\n%s", n, logged)
	}
}

// targetHosts are the hosts the scheduler's probes are sent to.
func targetHosts(s *Scheduler) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, src := range s.sources {
		for _, t := range src {
			for _, w := range t.workers {
				w.mu.Lock()
				out = append(out, w.spec.Target.Host)
				w.mu.Unlock()
			}
		}
	}
	return out
}

// execProber is a fakeProber of type exec.
type execProber struct{ fakeProber }

func (*execProber) Type() prober.Type { return prober.Exec }

// TestProbing: the addresses network probes dial are indexed as targets
// come, change labels and go; an exec probe's address is not one.
func TestProbing(t *testing.T) {
	s, _ := harness(t, Options{})
	tcp := spec(probe.Readiness, &fakeProber{outcome: prober.Outcome{Result: prober.Success}}, time.Hour)
	exe := spec(probe.Liveness, &execProber{fakeProber{outcome: prober.Outcome{Result: prober.Success}}}, time.Hour)
	syncT(s, "src", []Target{{Key: "10.0.0.1:80", Specs: []Spec{tcp}}, {Key: "10.0.0.2:80", Specs: []Spec{exe}}})
	if !s.Probing("10.0.0.1:80") || s.Probing("10.0.0.2:80") || s.Probing("10.0.0.3:80") {
		t.Errorf("probing: %v %v %v", s.Probing("10.0.0.1:80"), s.Probing("10.0.0.2:80"), s.Probing("10.0.0.3:80"))
	}
	// Another source with the same series stands by; the first going
	// leaves it dialing.
	syncT(s, "other", []Target{{Key: "10.0.0.1:80", Specs: []Spec{tcp}}})
	syncT(s, "src", nil)
	if !s.Probing("10.0.0.1:80") {
		t.Error("the stand-by probe took over, but its address is not indexed")
	}
	syncT(s, "other", nil)
	if s.Probing("10.0.0.1:80") {
		t.Error("an address still indexed after its probes went")
	}
}

// TestRunnersServeManyRuns: under load (probes waiting for a slot) a
// goroutine that finishes a run takes the next, rather than one being
// started per run.
func TestRunnersServeManyRuns(t *testing.T) {
	s, _ := harness(t, Options{MaxInFlight: 2})
	pastStartup(s)
	p := &fakeProber{}
	var ts []Target
	for i := 0; i < 50; i++ {
		ts = append(ts, Target{Key: fmt.Sprint(i), Specs: []Spec{spec(probe.Readiness, p, 10*time.Millisecond)}})
	}
	syncT(s, "src", ts)
	await.True(t, "1,000 runs", func() bool { return p.calls.Load() >= 1000 })
	runs, runners := p.calls.Load(), s.runners.Load()
	if runners*5 > runs {
		t.Errorf("%d goroutines started for %d runs", runners, runs)
	}
	syncT(s, "src", nil)
}

// TestParkedRunnersServeSparseRuns: runs that come one at a time, none
// waiting when the last ends (an idle exporter), are served by a parked
// runner, not a goroutine each; the parked leave with the last probe.
func TestParkedRunnersServeSparseRuns(t *testing.T) {
	s, _ := harness(t, Options{MaxInFlight: 100})
	pastStartup(s)
	base := runtime.NumGoroutine()
	p := &fakeProber{}
	syncT(s, "src", []Target{{Key: "one", Specs: []Spec{spec(probe.Readiness, p, 5*time.Millisecond)}}})
	await.True(t, "50 runs", func() bool { return p.calls.Load() >= 50 })
	if runners := s.runners.Load(); runners > 2 {
		t.Errorf("%d goroutines started for %d runs, one at a time", runners, p.calls.Load())
	}
	// With no probe left, no runner stays parked.
	syncT(s, "src", nil)
	await.True(t, "the parked runners gone", func() bool { return runtime.NumGoroutine() <= base })
}

// TestNoRunnerParksWithoutProbes: a run that ends after the last probe
// went (a slow attempt of a removed target) does not park its runner.
func TestNoRunnerParksWithoutProbes(t *testing.T) {
	s, _ := harness(t, Options{})
	pastStartup(s)
	base := runtime.NumGoroutine()
	blocked := &fakeProber{block: make(chan struct{})}
	syncT(s, "src", []Target{{Key: "slow", Specs: []Spec{spec(probe.Readiness, blocked, time.Hour)}}})
	await.True(t, "the slow probe running", func() bool { return blocked.calls.Load() == 1 })
	syncT(s, "src", nil)
	close(blocked.block)
	await.True(t, "its runner gone", func() bool { return runtime.NumGoroutine() <= base })
}

// TestSameSeriesFromThreeSources: a probe standing by that goes leaves
// the order of the others; the next in line takes over from the first.
func TestSameSeriesFromThreeSources(t *testing.T) {
	s, _ := harness(t, Options{})
	ps := []*fakeProber{{}, {}, {}}
	for i, src := range []string{"slice-a", "slice-b", "slice-c"} {
		ps[i].set(prober.Outcome{Result: prober.Success})
		syncT(s, src, []Target{{Key: "10.0.0.1", Specs: []Spec{spec(probe.Readiness, ps[i], 10*time.Millisecond)}}})
	}
	await.True(t, "the first probed", func() bool { return ps[0].calls.Load() >= 2 })
	s.Sync("slice-b", nil) // standing by: nothing changes
	s.Sync("slice-a", nil)
	await.True(t, "the third took over", func() bool { return ps[2].calls.Load() >= 1 })
	n := 0
	s.Each(func(*state.View) { n++ })
	if n != 1 || ps[1].calls.Load() != 0 {
		t.Fatalf("%d series rendered, the removed standby probed %d times", n, ps[1].calls.Load())
	}
	s.Sync("slice-c", nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.series.first) != 0 || len(s.series.standby) != 0 {
		t.Errorf("the index keeps %d series and %d standby lists", len(s.series.first), len(s.series.standby))
	}
}

// TestOnTransition: the hook hears each thresholded change (with the
// probe's labels, the reason and its class), and a readiness probe that
// fails from its start once; never the attempts in between.
func TestOnTransition(t *testing.T) {
	var mu sync.Mutex
	var heard []Transition
	got := func() []Transition {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(heard)
	}
	s, _ := harness(t, Options{OnTransition: func(tr Transition) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, tr)
	}})
	p := &fakeProber{outcome: prober.Outcome{Result: prober.Failure, Output: "HTTP probe failed with statuscode: 503", Reason: prober.HTTPStatus}}
	sp := spec(probe.Readiness, p, 10*time.Millisecond)
	sp.SuccessThreshold, sp.FailureThreshold = 1, 2
	syncT(s, "src", []Target{{Key: "a", Specs: []Spec{sp}}})
	await.True(t, "the probe to settle failing", func() bool { return len(got()) == 1 })
	p.set(prober.Outcome{Result: prober.Success})
	await.True(t, "the change to success", func() bool { return len(got()) == 2 })
	p.set(prober.Outcome{Result: prober.Failure, Output: "HTTP probe failed with statuscode: 500", Reason: prober.HTTPStatus})
	await.True(t, "the change to failure", func() bool { return len(got()) == 3 })
	before := p.calls.Load()
	await.True(t, "more failed attempts", func() bool { return p.calls.Load() > before+3 })
	h := got()
	if len(h) != 3 {
		t.Fatalf("heard %d transitions, want 3: %+v", len(h), h)
	}
	for i, want := range []struct {
		from, to state.Value
		class    prober.Reason
	}{{state.Failure, state.Failure, prober.HTTPStatus}, {state.Failure, state.Success, prober.NoReason}, {state.Success, state.Failure, prober.HTTPStatus}} {
		if tr := h[i]; tr.From != want.from || tr.To != want.to || tr.Class != want.class || tr.Entry != "e" || tr.Labels.Address() != "a" {
			t.Errorf("transition %d: %+v, want %v -> %v (%s)", i, tr, want.from, want.to, want.class)
		}
	}
	if h[2].Reason != "HTTP probe failed with statuscode: 500" {
		t.Errorf("reason %q", h[2].Reason)
	}
}
