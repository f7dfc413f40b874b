package collector

import (
	"sort"
	"time"

	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// sample is one probe's values at one moment: only what a scrape writes,
// about 100 bytes, so a snapshot of 100k probes is about 10 MB (a whole
// state.Record with its reason and output is several times that).
type sample struct {
	labels *series.Labels
	// text and resultAt are labels' own, copied here: a scrape reads them
	// for every sample, and from the snapshot they are in cache.
	text               string
	resultAt, reasonAt int32
	class              prober.Reason
	tls                *prober.TLSFacts

	http, attempted, lookedUp, lastSuccess bool
	value                                  int8
	statusCode                             int32
	failuresRun, successesRun              int32
	duration, lookup                       time.Duration
	transitions                            uint64
	lastTransition                         int64 // Unix nanoseconds
	successes, failures, errors            uint64
}

func sampleOf(st *state.View) sample {
	l, r := st.Labels, &st.Record
	last, run := r.Run()
	s := sample{labels: l, text: l.Text(), resultAt: int32(l.ResultAt()), reasonAt: int32(l.ReasonAt()), class: r.LastClass, tls: r.TLS, http: st.Handler == prober.HTTPGet,
		attempted: r.Attempted, lookedUp: r.LookedUp, lastSuccess: r.LastSuccess, value: int8(r.Value()),
		statusCode: int32(r.LastStatusCode), duration: r.LastDuration, lookup: r.LastLookup(),
		successes: r.Successes, failures: r.Failures, errors: r.Errors}
	if last == state.Success {
		s.successesRun = run
	} else {
		s.failuresRun = run
	}
	var at time.Time
	s.transitions, at = r.Transitions()
	s.lastTransition = at.UnixNano()
	return s
}

// entryCount is one entry's probe_exporter_targets.
type entryCount struct {
	entry string
	n     int
}

// snapshot is every probe's sample and the target counts, taken once per
// scrape so that every family shows the same moment.
type snapshot struct {
	samples []sample
	withTLS int          // samples with TLS facts
	targets []entryCount // sorted by entry
}

// snapshot takes one from the reader.
func (c *Collector) snapshot() *snapshot {
	n := c.lastProbes.Load()
	s := &snapshot{samples: make([]sample, 0, n+n/16)}
	c.src.Each(func(st *state.View) {
		s.samples = append(s.samples, sampleOf(st))
		if st.Record.TLS != nil {
			s.withTLS++
		}
	})
	c.lastProbes.Store(int64(len(s.samples)))
	for e, n := range c.src.Targets() {
		s.targets = append(s.targets, entryCount{e, n})
	}
	sort.Slice(s.targets, func(i, j int) bool { return s.targets[i].entry < s.targets[j].entry })
	return s
}
