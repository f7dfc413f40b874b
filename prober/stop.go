package prober

import (
	"context"
	"sync"
	"time"
)

// Stop ends a Run from outside its context — the scheduler's removal of
// a probe while it runs: the attempt running is cancelled as its
// context's cancellation would cancel it, and no retry follows. (A
// cancellable context per run did the same for four allocations and two
// maps, a tenth of the scheduler's CPU per probe at saturation.) The zero
// value is ready; a Stop serves one Run. A nil *Stop never stops.
type Stop struct {
	mu      sync.Mutex
	stopped bool
	running attempt // zero when none
}

// Stop cancels the attempt running, if any, and every one after it.
func (s *Stop) Stop() {
	s.mu.Lock()
	s.stopped = true
	a := s.running
	s.mu.Unlock()
	if a.ctx != nil {
		a.end()
	}
}

// Stopped says whether Stop was called: the Run's result describes
// nothing anyone asked for.
func (s *Stop) Stopped() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// begin registers the attempt running; false when stopped already.
func (s *Stop) begin(a attempt) bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.running = a
	return true
}

// done forgets the attempt once it has returned.
func (s *Stop) done() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.running = attempt{}
	s.mu.Unlock()
}

// Run is the package's Run, stopped by s.
func (s *Stop) Run(ctx context.Context, p Prober, t *Target, timeout time.Duration, now func() time.Time, attempt func(Outcome, time.Duration)) Outcome {
	o := Outcome{Result: Unknown, Err: context.Canceled}
	sb, ok := p.(socketBound)
	cheap := ok && sb.socketBound()
	for i := 0; i < MaxRetries; i++ {
		a := startAttempt(ctx, timeout, cheap)
		if !s.begin(a) {
			a.end()
			break
		}
		start := now()
		o = p.Probe(a.ctx, t)
		s.done()
		a.end()
		tr := a.trace
		if n := tr.lookups.Load(); n > 0 {
			o.LookedUp, o.Lookup = true, time.Duration(tr.lookupNanos.Load())
		}
		if attempt != nil {
			attempt(o, now().Sub(start))
		}
		if o.Err == nil || ctx.Err() != nil || s.Stopped() {
			break
		}
	}
	return o
}
