package collector

import (
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
)

// family is one per-probe metric family. The one table of them, families,
// drives every exposition format: the text and OpenMetrics writer and the
// prometheus.Collector behind protobuf.
type family struct {
	name, help string
	counter    bool
	// value is the family's one sample of a probe, and whether it has
	// one; nil for a family with a result label, which has results.
	value func(s *sample) (float64, bool)
	// results are the samples by result label value (resultValues).
	results func(s *sample) [3]float64
	// reason, for a family with a reason label, is the class its one
	// sample (valued 1) carries, and whether it has one.
	reason func(s *sample) (prober.Reason, bool)
	// labels, for an info family (its one sample valued 1), are its own
	// label names, sorted; info gives their values, nil for no sample.
	// A probe whose own labels take one of these names has no sample of
	// the family (a series can't carry a name twice).
	labels []string
	info   func(s *sample) []string
	// tls marks the TLS families: a scrape with no HTTPS probe's facts
	// skips them without a pass over the samples.
	tls bool
}

// resultValues are the values of the result label, in the order results
// gives them (sorted, as client_golang writes them).
var resultValues = [3]string{"error", "failure", "success"}

// resultPairs are resultValues as the text formats write them.
var resultPairs = [3]string{`result="error"`, `result="failure"`, `result="success"`}

// reasonPairs are the reason classes as the text formats write them.
var reasonPairs = func() []string {
	out := make([]string, len(prober.Reasons())+1)
	for _, r := range prober.Reasons() {
		out[r] = series.Reason + `="` + r.String() + `"`
	}
	return out
}()

// families, in the order a text scrape writes them (sorted by name, as
// client_golang does).
var families = []family{
	{name: "probe_consecutive_failures", help: "Consecutive failed results counted towards failureThreshold.",
		value: func(s *sample) (float64, bool) { return float64(s.failuresRun), true }},
	{name: "probe_consecutive_successes", help: "Consecutive successful results counted towards successThreshold.",
		value: func(s *sample) (float64, bool) { return float64(s.successesRun), true }},
	{name: "probe_dns_lookup_time_seconds", help: "How long the last probe attempt spent resolving its host name (blackbox_exporter's name); only for probes whose host is a name.",
		value: func(s *sample) (float64, bool) { return s.lookup.Seconds(), s.lookedUp }},
	{name: "probe_duration_seconds", help: "How long the last probe attempt took.",
		value: func(s *sample) (float64, bool) { return s.duration.Seconds(), s.attempted }},
	{name: "probe_failure_reason", help: "Why the last attempt failed or errored: 1, with its class as the reason label (a fixed set; see README); no series while the last attempt succeeded.",
		reason: func(s *sample) (prober.Reason, bool) { return s.class, s.class != prober.NoReason }},
	{name: "probe_http_status_code", help: "HTTP status code of the last httpGet attempt's final response, 0 if there was none.",
		value: func(s *sample) (float64, bool) { return float64(s.statusCode), s.attempted && s.http }},
	{name: "probe_last_transition_timestamp_seconds", help: "When probe_state last changed, or when the target appeared if it never did.",
		value: func(s *sample) (float64, bool) { return float64(s.lastTransition) / 1e9, true }},
	{name: "probe_results_total", counter: true,
		help: "Probe results: success, failure, or error (discarded after the kubelet's retries; it never moves the state).",
		results: func(s *sample) [3]float64 {
			return [3]float64{float64(s.errors), float64(s.failures), float64(s.successes)}
		}},
	{name: prober.EarliestExpiryGauge.Name, help: prober.EarliestExpiryGauge.Help + " From the last handshake of an HTTPS probe.", tls: true,
		value: func(s *sample) (float64, bool) { return expiry(s) }},
	{name: prober.ChainExpiryGauge.Name, help: prober.ChainExpiryGauge.Help, tls: true,
		value: func(s *sample) (float64, bool) { return expiry(s) }},
	{name: prober.ChainInfoGauge.Name, help: prober.ChainInfoGauge.Help, labels: prober.LeafLabels, tls: true,
		info: func(s *sample) []string {
			if s.tls == nil {
				return nil
			}
			return s.tls.Leaf.Values()
		}},
	{name: "probe_state", help: "Thresholded probe state, as the kubelet caches it: 1 success, 0 failure, -1 unknown.",
		value: func(s *sample) (float64, bool) { return float64(s.value), true }},
	{name: "probe_state_transitions_total", counter: true, help: "How often probe_state changed.",
		value: func(s *sample) (float64, bool) { return float64(s.transitions), true }},
	{name: "probe_success", help: "Whether the last probe attempt succeeded (1) or not (0); an HTTP 3xx that was not followed counts as success, as in the kubelet.",
		value: func(s *sample) (float64, bool) { return boolFloat(s.lastSuccess), s.attempted }},
	{name: prober.TLSVersionGauge.Name, help: prober.TLSVersionGauge.Help, labels: prober.VersionLabels, tls: true,
		info: func(s *sample) []string {
			if s.tls == nil {
				return nil
			}
			return s.tls.VersionValues()
		}},
}

// expiry is the TLS gauges' certificate expiry, in Unix seconds.
func expiry(s *sample) (float64, bool) {
	if s.tls == nil {
		return 0, false
	}
	return float64(s.tls.Expiry.Unix()), true
}

// infoOf is f's label values for s, nil when s has no sample of f.
func infoOf(f *family, s *sample) []string {
	v := f.info(s)
	if v == nil {
		return nil
	}
	for _, n := range f.labels {
		if s.labels.Names.Has(n) {
			return nil
		}
	}
	return v
}

// targetsFamily is the per-entry target count.
var targetsFamily = struct{ name, help string }{"probe_exporter_targets", "Targets currently probed, by target entry."}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
