package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/probe"
)

// TestAttemptClockMatchesWithTimeout: an attempt on the attempt clock
// gives what one under context.WithTimeout gives — result, output, error
// text — and ends as soon, for every way a cleartext attempt can end:
// success, refusal, a connect that hangs, a head that never comes, a body
// that stalls, a redirect to an https server that never shakes hands,
// and a cancellation from outside.
func TestAttemptClockMatchesWithTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const bound = 100 * time.Millisecond

	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "fine") }))
	defer ok.Close()
	stalledBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer stalledBody.Close()
	stalled, _ := stallServer(t)
	toHTTPS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.1:"+strconv.Itoa(stalled)+"/", http.StatusFound)
	}))
	defer toHTTPS.Close()
	portOf := func(s *httptest.Server) int32 { return int32(s.Listener.Addr().(*net.TCPAddr).Port) }
	httpGet := func(port int32) Prober {
		return newHTTP(&probe.HTTPGetAction{Path: "/", Port: probe.IntOrString{IntVal: port}, Scheme: "HTTP"}, testEnv)
	}
	tcp := func(port int) Prober {
		return &tcpProber{port: probe.IntOrString{IntVal: int32(port)}, dialer: NewDialer()}
	}

	for _, tc := range []struct {
		name string
		p    Prober
		// cancelAfter cancels the parent context then (0: never).
		cancelAfter time.Duration
		// ends is when the attempt must end by (less the bound).
		ends time.Duration
	}{
		{"tcp success", tcp(int(portOf(ok))), 0, 0},
		{"tcp refused", tcp(closedPort(t)), 0, 0},
		{"tcp connect hangs", tcp(backlogPort(t)), 0, timeout},
		{"tcp connect hangs, cancelled", tcp(backlogPort(t)), 100 * time.Millisecond, 100 * time.Millisecond},
		{"http success", httpGet(portOf(ok)), 0, 0},
		{"http refused", httpGet(int32(closedPort(t))), 0, 0},
		{"http connect hangs", httpGet(int32(backlogPort(t))), 0, timeout},
		{"http head never comes", httpGet(int32(stalled)), 0, timeout},
		{"http head never comes, cancelled", httpGet(int32(stalled)), 100 * time.Millisecond, 100 * time.Millisecond},
		{"http body stalls", httpGet(portOf(stalledBody)), 0, timeout},
		{"http redirected to a stalled https", httpGet(portOf(toHTTPS)), 0, timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sb, ok := tc.p.(socketBound); !ok || !sb.socketBound() {
				t.Fatalf("%T does not run on the attempt clock", tc.p)
			}
			var got [2]Outcome
			for i, onClock := range []bool{false, true} {
				parent, cancelParent := context.WithCancel(context.Background())
				if tc.cancelAfter > 0 {
					time.AfterFunc(tc.cancelAfter, cancelParent)
				}
				// Timed from before the attempt's deadline is set: from
				// after, a loaded machine saw one end "2 ms early" (CI).
				start := time.Now()
				a := startAttempt(parent, timeout, onClock)
				actx, end := a.ctx, a.end
				got[i] = tc.p.Probe(actx, &Target{Host: "127.0.0.1"})
				took := time.Since(start)
				end()
				cancelParent()
				if took > tc.ends+bound {
					t.Errorf("on the clock %v: the attempt took %v, want at most %v", onClock, took, tc.ends+bound)
				}
				if tc.ends >= timeout && took < timeout {
					t.Errorf("on the clock %v: the attempt ended after %v, before its timeout %v", onClock, took, timeout)
				}
			}
			std, ours := got[0], got[1]
			if std.Result != ours.Result || std.Output != ours.Output || fmt.Sprint(std.Err) != fmt.Sprint(ours.Err) {
				t.Errorf("WithTimeout: %v %q %v\nthe clock:   %v %q %v", std.Result, std.Output, std.Err, ours.Result, ours.Output, ours.Err)
			}
		})
	}
}

// TestAttemptClockContext: the attempt clock's context is a deadline
// context by every observable rule — Deadline, Err before and after,
// Done closing (late by at most the grain), children derived from it,
// values of the parent, and the parent's cancellation.
func TestAttemptClockContext(t *testing.T) {
	const bound = 100 * time.Millisecond
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	const timeout = 50 * time.Millisecond
	start := time.Now()
	c := clock.start(parent, timeout)
	defer c.end()
	if dl, ok := c.Deadline(); !ok || dl.Before(start.Add(timeout)) || dl.After(time.Now().Add(timeout)) {
		t.Errorf("Deadline: %v %v", dl, ok)
	}
	if c.Err() != nil {
		t.Errorf("Err before the deadline: %v", c.Err())
	}
	if c.Value(key{}) != "v" {
		t.Error("the parent's value is lost")
	}
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	select {
	case <-c.Done():
	case <-time.After(timeout + clockGrain + bound):
		t.Fatal("Done never closed")
	}
	if late := time.Since(start) - timeout; late < 0 || late > clockGrain+bound {
		t.Errorf("Done closed %v after the deadline", late)
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("Err after the deadline: %v", c.Err())
	}
	select {
	case <-child.Done():
	case <-time.After(bound):
		t.Error("a child did not end with its parent")
	}

	// Err says the deadline has passed even before the clock comes by.
	c2 := clock.start(context.Background(), time.Millisecond)
	defer c2.end()
	time.Sleep(2 * time.Millisecond) // the deadline, not a condition, is what is tested
	if !errors.Is(c2.Err(), context.DeadlineExceeded) {
		t.Errorf("Err past the deadline: %v", c2.Err())
	}
	select {
	case <-c2.Done():
	default:
		t.Error("Err said the deadline passed but Done is open")
	}

	// The parent's cancellation is the attempt's, at once.
	p3, cancel3 := context.WithCancel(context.Background())
	c3 := clock.start(p3, time.Hour)
	defer c3.end()
	cancel3()
	<-c3.Done()
	if !errors.Is(c3.Err(), context.Canceled) {
		t.Errorf("Err after the parent's cancellation: %v", c3.Err())
	}
}

// backlogPort is faults.FullBacklog's port: a connect to it hangs.
func backlogPort(t *testing.T) int {
	_, port, _ := net.SplitHostPort(faults.FullBacklog(t))
	n, _ := strconv.Atoi(port)
	return n
}

// TestAttemptClockForgetsEndedAttempts: attempts that returned long
// before their deadline don't pile up in the clock until it comes (an
// hour here): the queue holds about what runs.
func TestAttemptClockForgetsEndedAttempts(t *testing.T) {
	const running = 10
	var live []*attemptCtx
	for i := 0; i < 10_000; i++ {
		c := clock.start(context.Background(), time.Hour)
		live = append(live, c)
		if len(live) > running {
			live[0].end()
			live = live[1:]
		}
	}
	clock.mu.Lock()
	n := clock.queues[time.Hour].len()
	clock.mu.Unlock()
	if n > max(compactAbove, 4*running)+1 {
		t.Errorf("%d attempts queued with %d running, want about what runs", n, running)
	}
	for _, c := range live {
		c.end()
		if c.Err() == nil {
			t.Error("an ended attempt's context is not done")
		}
	}
}

// TestClockDial: only an attempt on the clock dialing an IP address has
// its deadline hidden from net.Dialer (connect waits on Done); a name
// keeps it, for net.Dialer to share among the name's addresses, and so
// does any attempt off the clock.
func TestClockDial(t *testing.T) {
	on := clock.start(context.Background(), time.Second)
	defer on.end()
	off, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, c := range []struct {
		ctx      context.Context
		address  string
		deadline bool
	}{
		{on, "127.0.0.1:80", false},
		{on, "[::1]:80", false},
		{on, "[fe80::1%eth0]:80", false},
		{on, "web.test:80", true},
		{on, "no-port", true},
		{off, "127.0.0.1:80", true},
	} {
		ctx := clockDial(c.ctx, c.address)
		if _, ok := ctx.Deadline(); ok != c.deadline {
			t.Errorf("%s: deadline seen %v, want %v", c.address, ok, c.deadline)
		}
		if ctx.Done() != c.ctx.Done() || onClock(ctx) != onClock(c.ctx) {
			t.Errorf("%s: the dial's context must end with the attempt's", c.address)
		}
	}
}

// TestAttemptContextAsContext: what package context and net ask of an
// attempt's context, answered as context.WithTimeout's would be: Cause,
// AfterFunc (run at the deadline, or stopped), children that end with
// it — without a goroutine per wait, which context starts for a parent
// it can neither find a cancelCtx in nor ask to run a function.
func TestAttemptContextAsContext(t *testing.T) {
	const timeout = 30 * time.Millisecond
	c := clock.start(context.Background(), timeout)
	defer c.end()
	if err := context.Cause(c); err != nil {
		t.Errorf("Cause before the deadline: %v", err)
	}
	before := runtime.NumGoroutine()
	const waits = 50
	ran := make(chan struct{}, 2*waits)
	var stops []func() bool
	for i := 0; i < waits; i++ {
		// As connect(2) waits: on the dial's context, deadline hidden.
		stops = append(stops, context.AfterFunc(clockDial(c, "127.0.0.1:1"), func() { ran <- struct{}{} }))
		child, cancel := context.WithCancel(c)
		defer cancel()
		stops = append(stops, context.AfterFunc(child, func() { ran <- struct{}{} }))
	}
	if n := runtime.NumGoroutine() - before; n > waits/10 {
		t.Errorf("%d waits on the attempt started %d goroutines", 2*waits, n)
	}
	for _, stop := range []func() bool{stops[0], stops[len(stops)-1]} { // in place and beyond
		if !stop() || stop() {
			t.Error("stop: want true once, then false")
		}
	}
	<-c.Done()
	for i := 2; i < len(stops); i++ {
		select {
		case <-ran:
		case <-time.After(time.Second):
			t.Fatalf("%d of %d functions ran after the deadline", i-2, len(stops)-2)
		}
	}
	if stops[1]() {
		t.Error("stop of a function that ran said it kept it from running")
	}
	select {
	case <-ran:
		t.Error("a stopped function ran")
	default:
	}
	if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Cause after the deadline: %v", err)
	}
	late := make(chan struct{})
	if context.AfterFunc(c, func() { close(late) })() {
		t.Error("stop of a function registered after the deadline said it kept it from running")
	}
	<-late

	ended := clock.start(context.Background(), time.Hour)
	ended.end()
	if err := context.Cause(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Cause of an ended attempt: %v", err)
	}
}

// TestAttemptClockWatchesParents: attempts under one parent share one
// watch of it; its cancellation ends every one with its error, at once
// for a parent cancelled already; a parent with nothing running under it
// is let go.
func TestAttemptClockWatchesParents(t *testing.T) {
	watch := func(p context.Context) *parentWatch {
		clock.mu.Lock()
		defer clock.mu.Unlock()
		return clock.parents[p.Done()]
	}
	parent, cancel := context.WithCancelCause(context.Background())
	type key struct{}
	valued := context.WithValue(parent, key{}, 1) // the same Done: the same watch
	var cs []*attemptCtx
	for i := 0; i < 20; i++ {
		p := context.Context(parent)
		if i%2 == 1 {
			p = valued
		}
		cs = append(cs, clock.start(p, time.Hour))
	}
	if w := watch(parent); w == nil || w.running != 20 {
		t.Fatalf("watch: %+v, want one counting 20 attempts", w)
	}
	cs[0].end()
	if w := watch(parent); w.running != 19 {
		t.Errorf("an ended attempt still counted: %d", w.running)
	}
	cancel(errors.New("shutdown"))
	for i, c := range cs[1:] {
		select {
		case <-c.Done():
		case <-time.After(time.Second):
			t.Fatalf("attempt %d not ended by its parent", i+1)
		}
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("attempt %d: Err %v, want the parent's", i+1, c.Err())
		}
		c.end()
	}
	if !errors.Is(cs[0].Err(), context.Canceled) {
		t.Errorf("the ended attempt: %v", cs[0].Err())
	}

	// A parent cancelled before the attempt starts.
	c := clock.start(parent, time.Hour)
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("under a cancelled parent: Err %v", c.Err())
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Error("under a cancelled parent: Done open")
	}
	c.end()

	// Nothing running under a parent: its watch goes at the clock's wake.
	idle, stop := context.WithCancel(context.Background())
	defer stop()
	clock.start(idle, time.Millisecond).end()
	if watch(idle) == nil {
		t.Fatal("no watch while an attempt ran")
	}
	await.True(t, "the idle parent's watch let go", func() bool { return watch(idle) == nil })
}
