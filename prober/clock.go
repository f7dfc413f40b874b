package prober

import (
	"context"
	"sync"
	"time"
)

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
		c.watch = w
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
	if c.watch != nil {
		c.watch.running--
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
