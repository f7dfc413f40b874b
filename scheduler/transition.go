package scheduler

import (
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// Transition is a thresholded change of one probe's state, as the
// kubelet would see it change, or a probe settled failing from its start
// (From == To == Failure): what feeds Kubernetes (Events, readiness
// gates) hears of these, never of single attempts.
type Transition struct {
	Entry string
	Kind  probe.Kind
	// Labels are the probe's series labels (read only): the Kubernetes
	// object behind it is named there (namespace, pod, service).
	Labels   *series.Labels
	From, To state.Value
	// Reason is the last attempt's, worded as the kubelet's events word
	// it (empty after a success); Class is its class.
	Reason string
	Class  prober.Reason
	At     time.Time
}

// notify hands t to Options.OnTransition, if set.
func (s *Scheduler) notify(t Transition) {
	if s.onTransition != nil {
		s.onTransition(t)
	}
}
