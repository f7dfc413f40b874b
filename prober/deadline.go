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

	// queue is the clock's queue it waits in; ended, whether the attempt
	// has returned or its deadline has come. Guarded by the clock's mu.
	queue *ctxQueue
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

// afterFunc is context.AfterFunc, straight to the attempt's own when ctx
// is an attempt's (none of package context's wrapping around f).
func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if c, ok := ctx.(*attemptCtx); ok {
		return c.AfterFunc(f)
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

func (c clockOnly) AfterFunc(f func()) func() bool {
	if a, ok := c.Context.(interface{ AfterFunc(func()) func() bool }); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(c.Context, f)
}

// socketBound is a prober whose attempts wait only on sockets, which end
// when Done closes, so they may run on the attempt clock.
type socketBound interface{ socketBound() bool }

// end is the attempt's cancel: what is still waiting on Done stops, and
// the clock forgets it.
func (c *attemptCtx) end() {
	c.cancel(context.Canceled)
	clock.ended(c)
}

// attemptClock closes the Done of attempts whose deadline has passed.
// Attempts with the same timeout have deadlines in the order they
// started, so each timeout keeps a queue, and the clock wakes for the
// earliest head. An attempt that ended is dropped when its deadline
// comes, or sooner when ended ones outnumber the running ones four to
// one: a queue holds about what runs (the in-flight bound), not every
// attempt of the last timeoutSeconds.
type attemptClock struct {
	mu     sync.Mutex
	queues map[time.Duration]*ctxQueue
	// parents watch the parents of running attempts, by their Done.
	parents map[<-chan struct{}]*parentWatch
	timer   *time.Timer
	// wake is when the timer fires; zero while it is stopped.
	wake time.Time
	last time.Time
}

// parentWatch passes a parent's cancellation on to the attempts running
// under it: one context.AfterFunc on the parent for every attempt that
// runs under it while it is watched (the scheduler's attempts share one
// parent), where a context per attempt registered and removed itself
// under the parent's lock each time. Parents whose Done is the same
// channel (values added to one cancellable context) share a watch. A
// watch with no attempt running is let go at the clock's next wake.
type parentWatch struct {
	running int
	stop    func() bool
}

var clock = &attemptClock{queues: map[time.Duration]*ctxQueue{}, parents: map[<-chan struct{}]*parentWatch{}}

// start makes an attempt's context.
func (k *attemptClock) start(parent context.Context, timeout time.Duration) *attemptCtx {
	c := &attemptCtx{parent: parent, parentDone: parent.Done()}
	c.undated = clockOnly{c}
	k.mu.Lock()
	defer k.mu.Unlock()
	c.deadline = time.Now().Add(timeout) // under mu: each queue stays in order
	q := k.queues[timeout]
	if q == nil {
		q = &ctxQueue{}
		k.queues[timeout] = q
	}
	q.push(c)
	q.live++
	c.queue = q
	if q.len() == 1 {
		k.armLocked(c.deadline)
	}
	if c.parentDone != nil {
		w := k.parents[c.parentDone]
		if w == nil {
			w = &parentWatch{}
			k.parents[c.parentDone] = w
			// Runs at once (on a goroutine of its own, after mu is given
			// up) if the parent is done already: c is queued by then.
			done := c.parentDone
			w.stop = context.AfterFunc(parent, func() { k.parentDone(done) })
		}
		w.running++
	}
	return c
}

// parentDone cancels the attempts running under a parent that is done,
// each with its parent's error.
func (k *attemptClock) parentDone(done <-chan struct{}) {
	var under []*attemptCtx
	k.mu.Lock()
	delete(k.parents, done)
	for _, q := range k.queues {
		for _, c := range q.q {
			if c.parentDone == done && !c.ended {
				under = append(under, c)
			}
		}
	}
	k.mu.Unlock()
	for _, c := range under {
		c.cancel(c.parent.Err())
	}
}

// forgetLocked counts c out of its queue's running attempts and its
// parent's watch.
func (k *attemptClock) forgetLocked(c *attemptCtx) {
	c.ended = true
	c.queue.live--
	if c.parentDone != nil {
		if w := k.parents[c.parentDone]; w != nil {
			w.running--
		}
	}
}

// armLocked makes the timer fire by at, but not sooner than clockGrain
// after it last fired.
func (k *attemptClock) armLocked(at time.Time) {
	if !k.wake.IsZero() && !at.Before(k.wake) {
		return
	}
	at = maxTime(at, k.last.Add(clockGrain))
	k.wake = at
	if k.timer == nil {
		k.timer = time.AfterFunc(time.Until(at), k.fire)
		return
	}
	k.timer.Reset(time.Until(at))
}

// ended drops c from its queue's count of running attempts, and the
// queue of ended ones when they outnumber the running.
func (k *attemptClock) ended(c *attemptCtx) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.ended {
		return
	}
	k.forgetLocked(c)
	q := c.queue
	if q.len() > compactAbove && q.len() > 4*q.live {
		q.compact()
	}
}

// compactAbove is the queue length below which ended attempts just wait
// for their deadline.
const compactAbove = 64

func (k *attemptClock) fire() {
	now := time.Now()
	var due []*attemptCtx
	k.mu.Lock()
	k.wake, k.last = time.Time{}, now
	var next time.Time
	for timeout, q := range k.queues {
		for q.len() > 0 && !q.first().deadline.After(now) {
			if c := q.pop(); !c.ended {
				k.forgetLocked(c) // the deadline ends it; end finds it gone
				due = append(due, c)
			}
		}
		if q.len() == 0 {
			delete(k.queues, timeout)
			continue
		}
		if next.IsZero() || q.first().deadline.Before(next) {
			next = q.first().deadline
		}
	}
	if !next.IsZero() {
		k.armLocked(next)
	}
	var idle []func() bool
	for done, w := range k.parents {
		if w.running == 0 {
			delete(k.parents, done)
			idle = append(idle, w.stop)
		}
	}
	k.mu.Unlock()
	for _, c := range due {
		c.cancel(context.DeadlineExceeded)
	}
	for _, stop := range idle {
		stop()
	}
}

// ctxQueue is a FIFO of attempts. Popping reslices; append copies only
// what is still queued when it grows, so the popped prefix is let go.
// live counts the attempts in it that have not ended.
type ctxQueue struct {
	q    []*attemptCtx
	live int
}

// compact keeps the attempts that have not ended, in order.
func (q *ctxQueue) compact() {
	kept := make([]*attemptCtx, 0, 2*q.live)
	for _, c := range q.q {
		if !c.ended {
			kept = append(kept, c)
		}
	}
	q.q = kept
}

func (q *ctxQueue) len() int             { return len(q.q) }
func (q *ctxQueue) first() *attemptCtx   { return q.q[0] }
func (q *ctxQueue) push(c *attemptCtx)   { q.q = append(q.q, c) }
func (q *ctxQueue) pop() (c *attemptCtx) { c, q.q[0], q.q = q.q[0], nil, q.q[1:]; return c }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
