// Package procpace runs the exporter on one P (GOMAXPROCS=1) while it
// uses little CPU, and on the runtime's default (which follows a
// cgroup's CPU quota) as soon as it uses more.
//
// An exporter at rest works in small bursts: 100k probes at 300 s wake
// the timing loop every 10 ms to start a few probes. With several Ps,
// the Go scheduler spreads each burst: a runner made ready wakes another
// OS thread to run it (a futex each way), idle Ps spin looking for work
// before they sleep, and the poller is woken to rearm its timers. On the
// project's 2-core machine that cost more than the probes themselves:
// BenchmarkIdleTargets read 3.4 % of a core beyond a raw loop making the
// same connections at GOMAXPROCS=2 and 0.9 % at GOMAXPROCS=1, in two runs
// back to back. One P runs such a load without those hand-offs, and a
// process using a fifth of a core does not need a second one.
//
// It reads the CPU used every Window (100 ms) and widens as soon as one
// window reaches Widen (half a core: on one P, the P half busy), so a
// burst — a scrape, discovery's churn, many attempts ending at once —
// runs on every P within a window; it narrows again only once NarrowAfter
// windows in a row (3 s) have all stayed under Widen and used under
// Narrow (a fifth of a core) on average. With 1 s windows, the fault
// suite's attempts (thirty hostile targets whose timeouts fall together
// every 2 s, some reading 100 MB from a command) ran on one P through
// their bursts and ended up to 56 ms past their bound. Changing
// GOMAXPROCS stops the world for a few microseconds.
package procpace

import (
	"context"
	"log/slog"
	"runtime"
	"syscall"
	"time"
)

// Policy is when the exporter narrows to one P and widens again.
type Policy struct {
	// Window is how often the CPU used is read.
	Window time.Duration
	// Narrow is the mean CPU (cores) under which, over NarrowAfter
	// windows in a row none of which reached Widen, the exporter runs on
	// one P.
	Narrow      float64
	NarrowAfter int
	// Widen is the CPU (cores) at which, in one window, the exporter goes
	// back to the runtime's default GOMAXPROCS.
	Widen float64
}

// Default is the exporter's policy.
var Default = Policy{Window: 100 * time.Millisecond, Narrow: 0.2, NarrowAfter: 30, Widen: 0.5}

// pacer is what one Start has seen.
type pacer struct {
	policy Policy
	// quiet are the readings since the last at Widen or more, the last
	// NarrowAfter of them (a ring at n).
	quiet  []float64
	n      int
	narrow bool
}

// step takes the cores used over the last window and says whether the
// exporter should run on one P, and whether that is a change.
func (p *pacer) step(used float64) (narrow, change bool) {
	if used >= p.policy.Widen {
		p.quiet, p.n = p.quiet[:0], 0
		if p.narrow {
			p.narrow = false
			return false, true
		}
		return false, false
	}
	if len(p.quiet) < p.policy.NarrowAfter {
		p.quiet = append(p.quiet, used)
	} else {
		p.quiet[p.n] = used
		p.n = (p.n + 1) % len(p.quiet)
	}
	if p.narrow || len(p.quiet) < p.policy.NarrowAfter {
		return p.narrow, false
	}
	sum := 0.0
	for _, u := range p.quiet {
		sum += u
	}
	if sum/float64(len(p.quiet)) < p.policy.Narrow {
		p.narrow = true
		return true, true
	}
	return false, false
}

// Start follows the CPU used every window, from a goroutine, until ctx
// ends; then GOMAXPROCS is the runtime's default again and the channel is
// closed. Where the default is one P already there is nothing to do.
func Start(ctx context.Context, p Policy, log *slog.Logger) <-chan struct{} {
	if runtime.GOMAXPROCS(0) <= 1 {
		done := make(chan struct{})
		close(done)
		return done
	}
	set := func(narrow bool) {
		setNarrow(narrow)
		log.Debug("GOMAXPROCS set from the CPU used", "gomaxprocs", runtime.GOMAXPROCS(0))
	}
	return start(ctx, p, cpuSeconds, set, time.Now)
}

// setNarrow sets one P, or the runtime's default (and its updates from
// the cgroup's quota, which an explicit setting turns off).
func setNarrow(narrow bool) {
	if narrow {
		runtime.GOMAXPROCS(1)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// cpuSeconds is the user and system CPU the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func start(ctx context.Context, p Policy, cpu func() float64, set func(narrow bool), now func() time.Time) <-chan struct{} {
	pc := &pacer{policy: p}
	done := make(chan struct{})
	go func() {
		defer close(done)
		last, lastCPU := now(), cpu()
		tick := time.NewTicker(p.Window)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				if pc.narrow {
					set(false)
				}
				return
			case <-tick.C:
			}
			t, c := now(), cpu()
			if elapsed := t.Sub(last).Seconds(); elapsed > 0 {
				if narrow, change := pc.step((c - lastCPU) / elapsed); change {
					set(narrow)
				}
			}
			last, lastCPU = t, c
		}
	}()
	return done
}
