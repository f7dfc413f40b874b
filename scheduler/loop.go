package scheduler

import (
	"container/heap"
	"context"
	"time"

	"github.com/probe-exporter/probe-exporter/state"
)

// wakeSlack is the least time between two wake-ups of the timing loop.
const wakeSlack = 10 * time.Millisecond

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run schedules probes until ctx ends, then waits for running probes to
// return (they are cancelled with ctx).
func (s *Scheduler) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer s.running.Wait()
	for {
		s.mu.Lock()
		now := s.now()
		for s.queue.Len() > 0 && !s.queue[0].next.After(now) {
			w := heap.Pop(&s.queue).(*worker)
			if s.skipLocked(w, now) {
				continue
			}
			s.enqueueLocked(w)
		}
		s.dispatchLocked(ctx)
		s.adaptLocked(ctx, now)
		wait := time.Hour
		if s.queue.Len() > 0 {
			// At most one wake-up per wakeSlack (or a tenth of the next
			// probe's period, if less): the probes due within it start
			// together, that much late at most. At 400 probes a second,
			// each its own wake-up, that was a third of the CPU.
			next := s.queue[0]
			wait = max(next.next.Sub(now), min(wakeSlack, next.spec.Period/10))
		}
		s.mu.Unlock()

		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// adaptLocked adjusts an adaptive in-flight bound, once per adjustEvery.
func (s *Scheduler) adaptLocked(ctx context.Context, now time.Time) {
	l := &s.limit
	if !l.adaptive || now.Before(l.next) {
		return
	}
	l.next = now.Add(l.every)
	before := l.value
	if l.adjust(l.latency(), s.busy) {
		s.limitNow.Store(int64(l.value))
		s.log.Debug("in-flight bound changed", "from", before, "to", l.value)
		s.dispatchLocked(ctx) // a raised bound has slots to give now
	}
}

// skipLocked applies the kubelet's doProbe checks that come before probing
// (state.Gate: on hold, initial delay, startup gating). A skipped tick is
// rescheduled for the next period; an on-hold probe is not rescheduled.
func (s *Scheduler) skipLocked(w *worker, now time.Time) bool {
	g := state.Gate{Kind: w.spec.Kind, Age: now.Sub(w.t.appeared), InitialDelaySeconds: int32(w.spec.InitialDelay / time.Second), Started: true}
	w.mu.Lock()
	g.OnHold = w.rec.OnHold()
	w.mu.Unlock()
	if su := w.t.startup; su != nil && su != w {
		su.mu.Lock()
		g.Started = su.rec.Value() == state.Success
		su.mu.Unlock()
	}
	switch g.Decide() {
	case state.Hold:
		return true
	case state.Skip:
		w.next = nextTick(w.next, w.spec.Period, now)
		heap.Push(&s.queue, w)
		return true
	}
	return false
}

// nextTick is the next tick of a ticker of period p started at planned:
// ticks that passed while a probe ran are dropped, as time.Ticker drops
// them, and the phase is kept.
func nextTick(planned time.Time, p time.Duration, now time.Time) time.Time {
	next := planned.Add(p)
	if next.After(now) {
		return next
	}
	return next.Add(now.Sub(next) / p * p)
}

func (s *Scheduler) startLocked(ctx context.Context, w *worker) {
	l := w.lane
	pctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	planned := w.next
	w.lastStart = s.now().UnixNano()

	s.inFlight.Add(1)
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer cancel()
		s.runOnce(pctx, w, planned)
		s.inFlight.Add(-1)

		s.mu.Lock()
		defer s.mu.Unlock()
		w.cancel = nil
		l.inFlight--
		s.busy--
		if !w.removed && !w.standby && ctx.Err() == nil {
			w.next = nextTick(planned, w.spec.Period, s.now())
			heap.Push(&s.queue, w)
			if w.index == 0 {
				s.signal()
			}
		}
		s.dropLaneLocked(l)
		s.dispatchLocked(ctx)
	}()
}

// workerHeap orders workers by their next planned start.
type workerHeap []*worker

func (h workerHeap) Len() int { return len(h) }

// Less orders by planned start, and among probes planned for the same
// instant (targets that came together) the one that started longest ago
// first: under overload, whose ticks get skipped rotates.
func (h workerHeap) Less(i, j int) bool {
	if !h[i].next.Equal(h[j].next) {
		return h[i].next.Before(h[j].next)
	}
	return h[i].lastStart < h[j].lastStart
}

func (h workerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *workerHeap) Push(x any) {
	w := x.(*worker)
	w.index = len(*h)
	w.due.Store(w.next.UnixNano())
	*h = append(*h, w)
}

func (h *workerHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	w.index = -1
	w.due.Store(0)
	*h = old[:n-1]
	return w
}
