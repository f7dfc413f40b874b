package scheduler

import (
	"context"
	"slices"
	"time"

	"github.com/probe-exporter/probe-exporter/prober"
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
		for s.queue.Len() > 0 && s.queue.first().next <= s.offset(now) {
			w := s.queue.pop()
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
			next := s.queue.first()
			wait = max(next.next-s.offset(now), min(wakeSlack, next.spec.Period/10))
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
	g := state.Gate{Kind: w.spec.Kind, Age: s.offset(now) - w.t.appeared, InitialDelaySeconds: int32(w.spec.InitialDelay / time.Second), Started: true}
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
		w.next = s.offset(nextTick(s.at(w.next), w.spec.Period, now))
		s.queue.push(w)
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

// run is one probe run: the worker, the tick it was planned for, and
// what stops it if the worker goes away meanwhile.
type run struct {
	w       *worker
	planned time.Time
	stop    *prober.Stop
}

func (s *Scheduler) startLocked(ctx context.Context, w *worker) {
	r := run{w: w, planned: s.at(w.next), stop: &prober.Stop{}}
	w.stop = r.stop
	w.lastStart = s.now().UnixNano()
	s.inFlight.Add(1)
	if s.handingOff && s.handoff.w == nil {
		s.handoff = r // the runner that asked runs it next
		return
	}
	if n := len(s.parked); n > 0 {
		c := s.parked[n-1]
		s.parked = s.parked[:n-1]
		c <- r // buffered, and only ever sent one run while parked
		return
	}
	s.running.Add(1)
	s.runners.Add(1)
	go s.runner(ctx, r)
}

// maxParked is how many runners wait, between runs, for the next one the
// dispatch starts. Between bursts (100k probes at 300 s: a few every
// 10 ms) a goroutine per run grew a fresh stack to what a dial needs on
// every run: 13 % of the CPU of 100k idle probes. A parked runner keeps
// its stack (until a GC shrinks it); a few cover the bursts of an idle
// exporter, the handoff covers a busy one.
const maxParked = 8

// runner runs probe runs until none is waiting for its slot: a runner
// that finishes one takes the next the dispatch gives (see startLocked),
// so under load a goroutine serves many runs, its stack already grown to
// what a probe needs (a goroutine per run spent 7 % of the CPU at
// saturation growing stacks). When none is waiting it parks, if fewer
// than maxParked are parked and there are probes at all, for the next
// run started.
func (s *Scheduler) runner(ctx context.Context, r run) {
	defer s.running.Done()
	var mine chan run
	for r.w != nil {
		s.runOnce(ctx, r.w, r.planned, r.stop)
		s.inFlight.Add(-1)

		s.mu.Lock()
		s.finishLocked(ctx, r)
		s.handingOff = true
		s.dispatchLocked(ctx)
		r, s.handoff, s.handingOff = s.handoff, run{}, false
		if r.w != nil || len(s.parked) >= maxParked || len(s.sources) == 0 || ctx.Err() != nil {
			s.mu.Unlock()
			continue
		}
		if mine == nil {
			mine = make(chan run, 1)
		}
		s.parked = append(s.parked, mine)
		s.mu.Unlock()
		r = s.park(ctx, mine)
	}
}

// releaseParkedLocked ends the parked runners: with no probe left, an
// exporter runs no goroutine for probing.
func (s *Scheduler) releaseParkedLocked() {
	for _, c := range s.parked {
		c <- run{} // buffered: a runner given no run leaves
	}
	s.parked = nil
}

// park waits for the run startLocked sends a parked runner, or the end:
// then it leaves the parked list, unless a run was sent meanwhile, which
// it returns to be run (a cancelled run ends at once and plans nothing).
func (s *Scheduler) park(ctx context.Context, mine chan run) run {
	select {
	case r := <-mine:
		return r
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.parked, mine); i >= 0 {
		s.parked = slices.Delete(s.parked, i, i+1)
		return run{}
	}
	return <-mine // taken off the list: its run is in the buffer
}

// finishLocked gives back a run's slot and plans its worker's next tick.
func (s *Scheduler) finishLocked(ctx context.Context, r run) {
	w, l := r.w, r.w.lane
	w.stop = nil
	l.inFlight--
	s.busy--
	if !w.removed && !w.standby && ctx.Err() == nil {
		w.next = s.offset(nextTick(r.planned, w.spec.Period, s.now()))
		s.queue.push(w)
		if w.index == 0 {
			s.signal()
		}
	}
	s.dropLaneLocked(l)
}
