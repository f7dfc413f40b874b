package prober

import (
	"context"
	"net"
	"sync"
	"time"
)

// An attempt's timeout, without a timer per attempt.
//
// context.WithTimeout arms a runtime timer for every attempt and stops it
// again a millisecond later; so does every poller deadline (net.Dialer
// puts the context's deadline on connect(2), a connection's SetDeadline
// on its reads and writes). At probe rates those timers were the largest
// cost of an attempt after its system calls: each one is the earliest
// timer when it is armed (the one before it was stopped), and arming the
// earliest timer wakes the thread asleep in the network poller to wait
// for it — a write to an eventfd and a context switch, per timer
// (BenchmarkTCP: a dial with a deadline cost 1.3x a dial without one).
//
// So cleartext attempts get an attemptCtx: Deadline is exact, Err says
// context.DeadlineExceeded from the deadline on (the wording every error
// path keys on), and Done closes from one shared clock that wakes at
// most every clockGrain while attempts are pending. What waits on a
// socket waits on Done instead of a timer of its own: connect(2) through
// net.Dialer's cancellation (clockDial hides the deadline from it), reads
// and writes through the transport's cancellation hook; name lookups keep
// the resolver's own deadlines. An attempt so ends at most clockGrain
// after its timeout, with the result, error text and timing
// context.WithTimeout gives (TestAttemptClockMatchesWithTimeout runs the
// same cases through both).

// clockGrain is how often the shared clock may wake: how late Done may
// close after the deadline.
const clockGrain = 10 * time.Millisecond

// attemptCtx is context.WithTimeout(parent, timeout) for an attempt that
// waits only on sockets: Deadline and Err are the timeout's, Done closes
// from the clock, and the parent's values and cancellation are passed on.
//
// It is a context of its own rather than a context.WithCancel with the
// deadline added, for what waits on it: every connect(2) registers a
// context.AfterFunc on its dial's context, which on a cancelCtx costs a
// map of children per attempt (a third of what a tcpSocket probe
// allocated at saturation). context asks a parent that has an AfterFunc
// method to run the function itself: attemptCtx keeps it in a slot. The
// parent's cancellation reaches attempts through one registration per
// parent on the clock (see parentWatch), not one per attempt.
type attemptCtx struct {
	parent context.Context
	// parentDone is parent.Done(), which the clock's watch is keyed by.
	parentDone <-chan struct{}
	deadline   time.Time
	// trace is the attempt's, answering Value(traceKey{}) without a
	// context.WithValue of its own.
	trace trace

	mu sync.Mutex
	// done is made by the first Done and closed by cancel.
	done chan struct{}
	// err is set once, by cancel: context.Canceled when the attempt
	// ended, context.DeadlineExceeded at the deadline, the parent's
	// error when the parent was cancelled.
	err error
	// after holds what AfterFunc registered and has not run or been
	// stopped (nil slots were stopped): the first two in place (a dial
	// and a read wait at once at most), more in more.
	after    [2]func()
	more     []func()
	afterLen int

	// undated is the attempt with its deadline hidden, for clockDial.
	undated clockOnly

	// queue is the clock's queue it waits in; watch, its parent's watch
	// (nil for a parent never cancelled); ended, whether the attempt has
	// returned or its deadline has come. Guarded by the clock's mu.
	queue *ctxQueue
	watch *parentWatch
	ended bool
}

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

// Err is context.DeadlineExceeded from the deadline on, whether the
// clock has come by yet or not; the parent's error once the parent is
// cancelled (shutdown, a reload: context.Canceled), whether its
// cancellation has been passed on yet or not.
func (c *attemptCtx) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if c.parentDone != nil {
		if err := c.parent.Err(); err != nil {
			c.cancel(err)
			return c.Err()
		}
	}
	if time.Now().Before(c.deadline) {
		return nil
	}
	c.cancel(context.DeadlineExceeded)
	return c.Err()
}

func (c *attemptCtx) Value(key any) any {
	switch key {
	case traceKey{}:
		return &c.trace
	case clockKey{}:
		return true
	case attemptKey{}:
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc runs f once c is done, as context.AfterFunc does: package
// context calls it for every context.AfterFunc on c or a context made
// from c, instead of keeping a map of children. f runs on the goroutine
// that cancels c (the functions context registers only hand on); stop
// says whether it kept f from running.
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	i := c.afterLen
	c.afterLen++
	if i < len(c.after) {
		c.after[i] = f
	} else {
		c.more = append(c.more, f)
	}
	c.mu.Unlock()
	return func() bool { return c.stopAfter(i) }
}

// stopAfter drops the i-th function AfterFunc registered; false when it
// ran or was dropped already.
func (c *attemptCtx) stopAfter(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var slot *func()
	switch j := i - len(c.after); {
	case j < 0:
		slot = &c.after[i]
	case j < len(c.more):
		slot = &c.more[j]
	default:
		return false // ran: cancel took them
	}
	if *slot == nil {
		return false
	}
	*slot = nil
	return true
}

// afterFuncer is a context that runs functions when done itself, as
// package context asks of a parent before keeping children of its own.
type afterFuncer interface{ AfterFunc(func()) func() bool }

// afterFunc is context.AfterFunc, straight to the context's own when it
// has one (an attempt's: none of package context's wrapping around f).
func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

// cancel makes c done with err, the first time only, and runs what
// AfterFunc registered.
func (c *attemptCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done == nil {
		c.done = closedChan
	} else {
		close(c.done)
	}
	after, more := c.after, c.more
	c.after, c.more = [2]func(){}, nil
	c.mu.Unlock()
	for _, f := range after {
		if f != nil {
			f()
		}
	}
	for _, f := range more {
		if f != nil {
			f()
		}
	}
}

// closedChan is the Done of an attempt cancelled before anyone asked.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// clockKey says a context's Done comes from the attempt clock.
type clockKey struct{}

// onClock says whether ctx's Done comes from the attempt clock: whoever
// waits on Done alone must derive an exact deadline of their own.
func onClock(ctx context.Context) bool { return ctx.Value(clockKey{}) != nil }

// clockDial is the context to dial address with: on the attempt clock and
// to one address (an IP literal), the attempt without its deadline, so
// that net.Dialer arms no poller deadline around connect(2) and waits on
// Done, which the clock closes at the deadline. Its error is the same
// ("i/o timeout": net.Dialer words a Done closed by the deadline as it
// words its own deadline). A name may resolve to several addresses, among
// which net.Dialer shares the time left by the deadline: it keeps it.
func clockDial(ctx context.Context, address string) context.Context {
	if !onClock(ctx) {
		return ctx
	}
	if host, _, err := net.SplitHostPort(address); err != nil || !isIP(host) {
		return ctx
	}
	if c, ok := ctx.(*attemptCtx); ok {
		return &c.undated // no allocation per dial
	}
	return clockOnly{ctx}
}

// clockOnly is an attempt's context with its deadline hidden: Done, Err,
// values and AfterFunc are the attempt's. (Without AfterFunc, a
// context.AfterFunc on it would cost a goroutine waiting on Done.)
type clockOnly struct{ context.Context }

func (clockOnly) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c clockOnly) AfterFunc(f func()) func() bool { return afterFunc(c.Context, f) }

// socketBound is a prober whose attempts wait only on sockets, which end
// when Done closes, so they may run on the attempt clock.
type socketBound interface{ socketBound() bool }

// end is the attempt's cancel: what is still waiting on Done stops, and
// the clock forgets it.
func (c *attemptCtx) end() {
	c.cancel(context.Canceled)
	clock.ended(c)
}
