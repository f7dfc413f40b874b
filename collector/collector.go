// Package collector renders probe state as Prometheus metrics at scrape
// time, as kube-state-metrics does: a target that is gone has no series on
// the next scrape, with no deletion bookkeeping to get wrong.
package collector

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/state"
)

// Source is what the collector reads: every probe's current state.
type Source interface {
	Each(func(*scheduler.Status))
	// Targets counts targets by entry.
	Targets() map[string]int
}

// Collector renders per-(target, kind) series and the target counts.
type Collector struct {
	src Source

	mu    sync.Mutex
	descs map[*scheduler.LabelNames]*descs

	// lastProbes sizes the next scrape's snapshot, so it is allocated once
	// rather than grown by doubling.
	lastProbes atomic.Int64
}

// New returns a Collector over src.
func New(src Source) *Collector {
	return &Collector{src: src, descs: map[*scheduler.LabelNames]*descs{}}
}

type descs struct {
	success, duration, state, consSuccess, consFailure,
	results, transitions, lastTransition, statusCode *prometheus.Desc
	seen bool
}

// help is the help text of every family this package renders: the
// user-facing contract (README, metrics reference).
var help = map[string]string{
	"probe_success":                           "Whether the last probe attempt succeeded (1) or not (0); an HTTP 3xx that was not followed counts as success, as in the kubelet.",
	"probe_duration_seconds":                  "How long the last probe attempt took.",
	"probe_state":                             "Thresholded probe state, as the kubelet caches it: 1 success, 0 failure, -1 unknown.",
	"probe_consecutive_successes":             "Consecutive successful results counted towards successThreshold.",
	"probe_consecutive_failures":              "Consecutive failed results counted towards failureThreshold.",
	"probe_results_total":                     "Probe results: success, failure, or error (discarded after the kubelet's retries; it never moves the state).",
	"probe_state_transitions_total":           "How often probe_state changed.",
	"probe_last_transition_timestamp_seconds": "When probe_state last changed, or when the target appeared if it never did.",
	"probe_http_status_code":                  "HTTP status code of the last httpGet attempt's final response, 0 if there was none.",
	"probe_exporter_targets":                  "Targets currently probed, by target entry.",
}

func newDescs(names []string) *descs {
	d := func(name string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help[name], append(append([]string(nil), names...), extra...), nil)
	}
	return &descs{
		success:        d("probe_success"),
		duration:       d("probe_duration_seconds"),
		state:          d("probe_state"),
		consSuccess:    d("probe_consecutive_successes"),
		consFailure:    d("probe_consecutive_failures"),
		results:        d("probe_results_total", "result"),
		transitions:    d("probe_state_transitions_total"),
		lastTransition: d("probe_last_transition_timestamp_seconds"),
		statusCode:     d("probe_http_status_code"),
	}
}

var targetsDesc = prometheus.NewDesc("probe_exporter_targets", help["probe_exporter_targets"], []string{"target"}, nil)

// Describe sends nothing: series of different entries carry different
// label names, so the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect renders the current state of every probe.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.descs {
		d.seen = false
	}
	c.src.Each(func(st *scheduler.Status) {
		sp := &st.Spec
		d := c.descs[sp.Labels]
		if d == nil {
			d = newDescs(sp.Labels.Names)
			c.descs[sp.Labels] = d
		}
		d.seen = true
		c.collect(ch, d, sp, &st.Record)
	})
	for k, d := range c.descs {
		if !d.seen {
			delete(c.descs, k) // an entry that went away with a reload
		}
	}
	for entry, n := range c.src.Targets() {
		ch <- prometheus.MustNewConstMetric(targetsDesc, prometheus.GaugeValue, float64(n), entry)
	}
}

func (c *Collector) collect(ch chan<- prometheus.Metric, d *descs, sp *scheduler.Spec, r *state.Record) {
	v := sp.Values
	gauge := func(desc *prometheus.Desc, val float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, val, v...)
	}
	if r.Attempted {
		gauge(d.success, boolFloat(r.LastSuccess))
		gauge(d.duration, r.LastDuration.Seconds())
		if sp.Prober.Type() == "httpGet" {
			gauge(d.statusCode, float64(r.LastStatusCode))
		}
	}
	gauge(d.state, float64(r.Value()))
	last, run := r.Run()
	var succ, fail int32
	if last == state.Success {
		succ = run
	} else {
		fail = run
	}
	gauge(d.consSuccess, float64(succ))
	gauge(d.consFailure, float64(fail))
	for _, res := range []struct {
		name string
		n    uint64
	}{{"success", r.Successes}, {"failure", r.Failures}, {"error", r.Errors}} {
		ch <- prometheus.MustNewConstMetric(d.results, prometheus.CounterValue, float64(res.n), append(v[:len(v):len(v)], res.name)...)
	}
	n, at := r.Transitions()
	ch <- prometheus.MustNewConstMetric(d.transitions, prometheus.CounterValue, float64(n), v...)
	gauge(d.lastTransition, float64(at.UnixNano())/1e9)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
