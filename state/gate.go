package state

import (
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

// Gate is what the kubelet's worker checks before each probe (worker.go,
// doProbe), in its order: a worker on hold does nothing; a probe within
// its initialDelaySeconds of the container's start is skipped; until the
// startup probe has succeeded only it runs, and once it has, it is done.
type Gate struct {
	Kind probe.Kind
	// OnHold: the probe needs no more runs (a startup probe that
	// succeeded; Record.OnHold).
	OnHold bool
	// Age is how long the target has run (the container's startedAt, or
	// when the target appeared); InitialDelaySeconds is the probe's.
	Age                 time.Duration
	InitialDelaySeconds int32
	// Started: the target's startup probe has succeeded, or it has none.
	Started bool
}

// Verdict is what a tick does.
type Verdict int

const (
	// Run: probe now.
	Run Verdict = iota
	// Skip: not this tick; look again the next.
	Skip
	// Hold: never again (until a new target).
	Hold
)

// Decide is the kubelet's doProbe checks for one tick. The delay counts
// whole seconds, as the kubelet's int32(time.Since(...).Seconds()) does.
func (g Gate) Decide() Verdict {
	switch {
	case g.OnHold:
		return Hold
	case int64(g.Age/time.Second) < int64(g.InitialDelaySeconds):
		return Skip
	case g.Kind != probe.Startup && !g.Started:
		return Skip
	}
	return Run
}
