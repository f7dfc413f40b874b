package collector

import (
	"github.com/probe-exporter/probe-exporter/state"
)

// family is one per-probe metric family. The one table of them, families,
// drives every exposition format: the text and OpenMetrics writer and the
// prometheus.Collector behind protobuf.
type family struct {
	name, help string
	counter    bool
	// value is the family's one sample of a probe, and whether it has
	// one; nil for a family with a result label, which has results.
	value func(s *snap) (float64, bool)
	// results are the samples by result label value (resultValues).
	results func(s *snap) [3]float64
}

// resultValues are the values of the result label, in the order results
// gives them (sorted, as client_golang writes them).
var resultValues = [3]string{"error", "failure", "success"}

// resultPairs are resultValues as the text formats write them.
var resultPairs = [3]string{`result="error"`, `result="failure"`, `result="success"`}

// families, in the order a text scrape writes them (sorted by name, as
// client_golang does).
var families = []family{
	{name: "probe_consecutive_failures", help: "Consecutive failed results counted towards failureThreshold.",
		value: func(s *snap) (float64, bool) {
			last, run := s.rec.Run()
			if last == state.Success {
				run = 0
			}
			return float64(run), true
		}},
	{name: "probe_consecutive_successes", help: "Consecutive successful results counted towards successThreshold.",
		value: func(s *snap) (float64, bool) {
			last, run := s.rec.Run()
			if last != state.Success {
				run = 0
			}
			return float64(run), true
		}},
	{name: "probe_dns_lookup_time_seconds", help: "How long the last probe attempt spent resolving its host name (blackbox_exporter's name); only for probes whose host is a name.",
		value: func(s *snap) (float64, bool) { return s.rec.LastLookup.Seconds(), s.rec.LookedUp }},
	{name: "probe_duration_seconds", help: "How long the last probe attempt took.",
		value: func(s *snap) (float64, bool) { return s.rec.LastDuration.Seconds(), s.rec.Attempted }},
	{name: "probe_http_status_code", help: "HTTP status code of the last httpGet attempt's final response, 0 if there was none.",
		value: func(s *snap) (float64, bool) { return float64(s.rec.LastStatusCode), s.rec.Attempted && s.http }},
	{name: "probe_last_transition_timestamp_seconds", help: "When probe_state last changed, or when the target appeared if it never did.",
		value: func(s *snap) (float64, bool) {
			_, at := s.rec.Transitions()
			return float64(at.UnixNano()) / 1e9, true
		}},
	{name: "probe_results_total", counter: true,
		help: "Probe results: success, failure, or error (discarded after the kubelet's retries; it never moves the state).",
		results: func(s *snap) [3]float64 {
			return [3]float64{float64(s.rec.Errors), float64(s.rec.Failures), float64(s.rec.Successes)}
		}},
	{name: "probe_state", help: "Thresholded probe state, as the kubelet caches it: 1 success, 0 failure, -1 unknown.",
		value: func(s *snap) (float64, bool) { return float64(s.rec.Value()), true }},
	{name: "probe_state_transitions_total", counter: true, help: "How often probe_state changed.",
		value: func(s *snap) (float64, bool) {
			n, _ := s.rec.Transitions()
			return float64(n), true
		}},
	{name: "probe_success", help: "Whether the last probe attempt succeeded (1) or not (0); an HTTP 3xx that was not followed counts as success, as in the kubelet.",
		value: func(s *snap) (float64, bool) { return boolFloat(s.rec.LastSuccess), s.rec.Attempted }},
}

// targetsFamily is the per-entry target count.
var targetsFamily = struct{ name, help string }{"probe_exporter_targets", "Targets currently probed, by target entry."}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
