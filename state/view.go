package state

import (
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
)

// View is one probe as its readers see it — the collector, the status
// views, --once, /probe — a copy of what it is and what is known of it,
// taken consistently. Readers depend on this, not on the scheduler that
// runs the probes.
type View struct {
	// Entry is the configuration entry (the target label); Key the
	// target's identity within its source.
	Entry, Key string
	Kind       probe.Kind
	// Handler is the probe's type (httpGet, tcpSocket, grpc, exec).
	Handler prober.Type
	// Labels are the series' labels; shared, read only.
	Labels *series.Labels
	// SuccessThreshold and FailureThreshold decide Record's value.
	SuccessThreshold, FailureThreshold int32
	// Definition is the probe as written (the entry's, or a container's
	// own); shared, read only.
	Definition *probe.Probe
	Record     Record
	// Next is when the probe runs next; zero while it runs or waits for
	// a slot, and once it needs no more runs (a startup probe that
	// succeeded).
	Next time.Time
}

// Reader is what readers read (the scheduler implements it).
type Reader interface {
	// Each calls fn with every probe's view: a copy, valid for the call;
	// fn must not call back.
	Each(fn func(*View))
	// Targets counts the targets probed now, by entry (each target once,
	// however many probes it has).
	Targets() map[string]int
	// Probing reports whether a network probe dials address (host:port)
	// now: a lookup, for /probe's allowDiscovered on every dial.
	Probing(address string) bool
}
