package prober

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// erroringProber errors (so Run would retry) once its context ends, and
// counts its calls; started tells when a call began.
type erroringProber struct {
	calls   atomic.Int32
	started chan struct{}
}

func (p *erroringProber) Type() Type               { return Exec }
func (p *erroringProber) Address(t *Target) string { return t.Host }
func (p *erroringProber) Probe(ctx context.Context, _ *Target) Outcome {
	p.calls.Add(1)
	p.started <- struct{}{}
	<-ctx.Done()
	return Outcome{Result: Unknown, Err: ctx.Err()}
}

// TestStop: a Stop ends the attempt running as a cancellation of its
// context would, and no retry follows; a Run stopped before it starts
// probes nothing.
func TestStop(t *testing.T) {
	p := &erroringProber{started: make(chan struct{}, 3)}
	var s Stop
	done := make(chan Outcome)
	go func() { done <- s.Run(context.Background(), p, &Target{Host: "h"}, time.Hour, time.Now, nil) }()
	<-p.started
	s.Stop()
	o := <-done
	if !errors.Is(o.Err, context.Canceled) || p.calls.Load() != 1 || !s.Stopped() {
		t.Errorf("stopped run: %v after %d calls (stopped %v)", o.Err, p.calls.Load(), s.Stopped())
	}

	var stopped Stop
	stopped.Stop()
	if o := stopped.Run(context.Background(), p, &Target{Host: "h"}, time.Hour, time.Now, nil); !errors.Is(o.Err, context.Canceled) || p.calls.Load() != 1 {
		t.Errorf("a run stopped before it started: %v, %d calls", o.Err, p.calls.Load())
	}
}
