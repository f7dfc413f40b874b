package discovery

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the discovery self-metrics every source shares, labelled by
// entry (target) and mechanism (static, kubernetes, ...): one set,
// registered once, whatever sources run.
type Metrics struct {
	skipped *prometheus.GaugeVec
	// synced renders probe_exporter_discovery_synced from what the
	// running sources report (Running.Synced), at scrape time.
	synced atomic.Pointer[func() []EntrySynced]
}

// EntrySynced is one entry's Running.Synced, for the synced metric.
type EntrySynced struct {
	Entry, Mechanism string
	Synced           bool
}

var syncedDesc = prometheus.NewDesc("probe_exporter_discovery_synced",
	"Whether the entry's discovery has everything it found scheduled and its source answers (1) or not (0): targets are the last known.",
	[]string{"target", "mechanism"}, nil)

// NewMetrics registers the shared discovery metrics with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		skipped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_skipped",
			Help: "Discovered things not probed, by entry, mechanism and reason (headless_service, exec_probe, container_not_running, ...).",
		}, []string{"target", "mechanism", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(syncedCollector{m}, m.skipped)
	}
	return m
}

// ReportSynced makes f what probe_exporter_discovery_synced renders: every
// entry's synced state, asked at each scrape (the targets manager, which
// knows every entry and its running source).
func (m *Metrics) ReportSynced(f func() []EntrySynced) { m.synced.Store(&f) }

// syncedCollector renders the synced metric from ReportSynced's function.
type syncedCollector struct{ m *Metrics }

func (c syncedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- syncedDesc }

func (c syncedCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.synced.Load()
	if f == nil {
		return
	}
	for _, e := range (*f)() {
		v := 0.0
		if e.Synced {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(syncedDesc, prometheus.GaugeValue, v, e.Entry, e.Mechanism)
	}
}

// SetSkipped sets entry's skipped counts: reasons not in counts are
// removed (of known, the reasons the mechanism can give).
func (m *Metrics) SetSkipped(entry, mechanism string, known []string, counts map[string]int) {
	for _, r := range known {
		if n, ok := counts[r]; ok {
			m.skipped.WithLabelValues(entry, mechanism, r).Set(float64(n))
		} else {
			m.skipped.DeleteLabelValues(entry, mechanism, r)
		}
	}
}

// Forget removes entry's series (its discovery stopped).
func (m *Metrics) Forget(entry, mechanism string) {
	m.skipped.DeletePartialMatch(prometheus.Labels{"target": entry, "mechanism": mechanism})
}
