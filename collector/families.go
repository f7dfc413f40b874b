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
	// result: the family has a result label, and samples names its value.
	result bool
	// samples calls emit with each sample of one probe; result is the
	// result label's value, "" for families without one.
	samples func(s *snap, emit func(result string, v float64))
}

// families, in the order a text scrape writes them (sorted by name, as
// client_golang does).
var families = []family{
	{name: "probe_consecutive_failures", help: "Consecutive failed results counted towards failureThreshold.",
		samples: func(s *snap, emit func(string, float64)) {
			last, run := s.rec.Run()
			if last == state.Success {
				run = 0
			}
			emit("", float64(run))
		}},
	{name: "probe_consecutive_successes", help: "Consecutive successful results counted towards successThreshold.",
		samples: func(s *snap, emit func(string, float64)) {
			last, run := s.rec.Run()
			if last != state.Success {
				run = 0
			}
			emit("", float64(run))
		}},
	{name: "probe_duration_seconds", help: "How long the last probe attempt took.",
		samples: func(s *snap, emit func(string, float64)) {
			if s.rec.Attempted {
				emit("", s.rec.LastDuration.Seconds())
			}
		}},
	{name: "probe_http_status_code", help: "HTTP status code of the last httpGet attempt's final response, 0 if there was none.",
		samples: func(s *snap, emit func(string, float64)) {
			if s.rec.Attempted && s.http {
				emit("", float64(s.rec.LastStatusCode))
			}
		}},
	{name: "probe_last_transition_timestamp_seconds", help: "When probe_state last changed, or when the target appeared if it never did.",
		samples: func(s *snap, emit func(string, float64)) {
			_, at := s.rec.Transitions()
			emit("", float64(at.UnixNano())/1e9)
		}},
	{name: "probe_results_total", counter: true, result: true,
		help: "Probe results: success, failure, or error (discarded after the kubelet's retries; it never moves the state).",
		samples: func(s *snap, emit func(string, float64)) {
			emit("error", float64(s.rec.Errors))
			emit("failure", float64(s.rec.Failures))
			emit("success", float64(s.rec.Successes))
		}},
	{name: "probe_state", help: "Thresholded probe state, as the kubelet caches it: 1 success, 0 failure, -1 unknown.",
		samples: func(s *snap, emit func(string, float64)) { emit("", float64(s.rec.Value())) }},
	{name: "probe_state_transitions_total", counter: true, help: "How often probe_state changed.",
		samples: func(s *snap, emit func(string, float64)) {
			n, _ := s.rec.Transitions()
			emit("", float64(n))
		}},
	{name: "probe_success", help: "Whether the last probe attempt succeeded (1) or not (0); an HTTP 3xx that was not followed counts as success, as in the kubelet.",
		samples: func(s *snap, emit func(string, float64)) {
			if s.rec.Attempted {
				emit("", boolFloat(s.rec.LastSuccess))
			}
		}},
}

// targetsFamily is the per-entry target count.
var targetsFamily = struct{ name, help string }{"probe_exporter_targets", "Targets currently probed, by target entry."}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
