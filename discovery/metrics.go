package discovery

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the discovery self-metrics every source shares, labelled by
// entry (target) and mechanism (static, kubernetes, ...): one set,
// registered once, whatever sources run.
type Metrics struct {
	synced  *prometheus.GaugeVec
	skipped *prometheus.GaugeVec
}

// NewMetrics registers the shared discovery metrics with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		synced: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_synced",
			Help: "Whether the entry's discovery has everything it found scheduled and its source answers (1) or not (0): targets are the last known.",
		}, []string{"target", "mechanism"}),
		skipped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "probe_exporter_discovery_skipped",
			Help: "Discovered things not probed, by entry, mechanism and reason (headless_service, exec_probe, container_not_running, ...).",
		}, []string{"target", "mechanism", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.synced, m.skipped)
	}
	return m
}

// SetSynced says whether entry's discovery is synced.
func (m *Metrics) SetSynced(entry, mechanism string, synced bool) {
	v := 0.0
	if synced {
		v = 1
	}
	m.synced.WithLabelValues(entry, mechanism).Set(v)
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
	m.synced.DeleteLabelValues(entry, mechanism)
	m.skipped.DeletePartialMatch(prometheus.Labels{"target": entry, "mechanism": mechanism})
}
