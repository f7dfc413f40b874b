package prober

import (
	"context"
	"errors"
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
// waits only on sockets. Done, Value and the parent's cancellation come
// from a plain cancel context (no timer); Deadline and Err are the
// timeout's.
type attemptCtx struct {
	context.Context
	cancel   context.CancelCauseFunc
	deadline time.Time
	// trace is the attempt's, answering Value(traceKey{}) without a
	// context.WithValue of its own.
	trace trace
	// queue is the clock's queue it waits in; ended, whether the attempt
	// has returned. Guarded by the clock's mu.
	queue *ctxQueue
	ended bool
}

func (c *attemptCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err is context.DeadlineExceeded from the deadline on, whether the
// clock has come by yet or not; the cause of an earlier cancellation
// otherwise (shutdown, a reload: context.Canceled).
func (c *attemptCtx) Err() error {
	if c.Context.Err() == nil {
		if time.Now().Before(c.deadline) {
			return nil
		}
		c.cancel(context.DeadlineExceeded)
	}
	if cause := context.Cause(c.Context); errors.Is(cause, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
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
	return c.Context.Value(key)
}

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
	return clockOnly{ctx}
}

// clockOnly is an attempt's context with its deadline hidden: Done, Err
// and values are the attempt's.
type clockOnly struct{ context.Context }

func (clockOnly) Deadline() (time.Time, bool) { return time.Time{}, false }

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
	timer  *time.Timer
	// wake is when the timer fires; zero while it is stopped.
	wake time.Time
	last time.Time
}

var clock = &attemptClock{queues: map[time.Duration]*ctxQueue{}}

// start makes an attempt's context.
func (k *attemptClock) start(parent context.Context, timeout time.Duration) *attemptCtx {
	c := &attemptCtx{}
	c.Context, c.cancel = context.WithCancelCause(parent)
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
	return c
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
	c.ended = true
	q := c.queue
	q.live--
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
				c.ended = true // the deadline ends it; end finds it gone
				q.live--
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
	k.mu.Unlock()
	for _, c := range due {
		c.cancel(context.DeadlineExceeded)
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
