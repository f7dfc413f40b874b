// Package state holds what is known about one (target, probe kind): the
// kubelet worker's threshold state machine and the facts of the last
// attempt, which the collector renders at scrape time.
package state

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
)

// Value is a thresholded result. Its numeric values are probe_state's.
type Value int8

const (
	Unknown Value = -1
	Failure Value = 0
	Success Value = 1
)

func (v Value) String() string {
	switch v {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Initial is the kubelet's initialValue: not ready, alive, not started.
func Initial(k probe.Kind) Value {
	switch k {
	case probe.Liveness:
		return Success
	case probe.Startup:
		return Unknown
	}
	return Failure
}

// Machine is the kubelet worker's threshold logic (worker.go doProbe), with
// one adaptation: there is no container to restart, so where the kubelet
// puts a liveness or startup worker on hold after Failure (until a new
// container appears) and resets its count, Machine keeps going, keeps
// counting, and recovers at successThreshold. A startup probe that succeeds is done, as in the
// kubelet: it goes on hold and gates nothing any more.
//
// Its fields are ordered to pack: there is one per probe, and 100k probes
// are a normal load (see Record).
type Machine struct {
	kind       probe.Kind
	value      Value
	lastResult Value // the kubelet's zero value: Success
	onHold     bool

	successThreshold int32
	failureThreshold int32
	resultRun        int32

	transitions uint64
	// lastTransition is UnixNano, 0 for the zero time (a time.Time is
	// three words).
	lastTransition int64
}

// NewMachine starts at the kind's initial value; since is when the target
// appeared, reported as the last transition until a real one happens.
func NewMachine(k probe.Kind, successThreshold, failureThreshold int32, since time.Time) Machine {
	return Machine{
		kind:             k,
		successThreshold: successThreshold,
		failureThreshold: failureThreshold,
		value:            Initial(k),
		lastResult:       Success,
		lastTransition:   unixNano(since),
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Observe counts one result that was not discarded (Success or Failure)
// and reports whether the thresholded value changed.
func (m *Machine) Observe(r Value, now time.Time) bool {
	if r == m.lastResult {
		m.resultRun++
	} else {
		m.lastResult = r
		m.resultRun = 1
	}
	if (r == Failure && m.resultRun < m.failureThreshold) ||
		(r == Success && m.resultRun < m.successThreshold) {
		return false
	}
	changed := m.value != r
	m.value = r
	if changed {
		m.transitions++
		m.lastTransition = unixNano(now)
	}
	if m.kind == probe.Startup && r == Success {
		m.onHold = true
		m.resultRun = 0
	}
	// Where a liveness or startup probe reaches failureThreshold, the
	// kubelet restarts the container and starts its count again from 0.
	// There is no restart here, so the count goes on: a dead target's
	// probe_consecutive_failures keeps growing (a user's "> 5" fires)
	// instead of saw-toothing 0, 1, 2, 0, 1, 2.
	return changed
}

// Value is the thresholded state.
func (m Machine) Value() Value { return m.value }

// Settled reports that the value is what the thresholds say: the latest
// run of identical results reached its threshold (or a startup probe
// succeeded). A probe that has not settled may still change on its next
// result without being flapping: it is on its way (readiness starts at
// Failure, so Failure after one failure of three is not yet an answer).
func (m Machine) Settled() bool {
	if m.onHold {
		return true
	}
	threshold := m.failureThreshold
	if m.lastResult == Success {
		threshold = m.successThreshold
	}
	return m.resultRun > 0 && m.resultRun >= threshold && m.value == m.lastResult
}

// OnHold reports that the probe needs no more runs (a startup probe that
// succeeded).
func (m Machine) OnHold() bool { return m.onHold }

// Run returns the consecutive identical results and which result they are.
func (m Machine) Run() (Value, int32) { return m.lastResult, m.resultRun }

// Transitions is how often the value changed, and when it last did.
func (m Machine) Transitions() (uint64, time.Time) {
	return m.transitions, fromUnixNano(m.lastTransition)
}

// Record is a Machine plus the facts of the last attempt and result counts:
// everything the collector renders for one (target, kind).
type Record struct {
	Machine

	// Attempted is false until the first attempt ends; last-attempt facts
	// are meaningless before.
	Attempted   bool
	LastSuccess bool
	// LookedUp is set once an attempt has resolved a name (the probe's
	// host is not an IP address); LastLookup is how long the last such
	// attempt's lookups took.
	LookedUp bool
	// LastClass is the class of the last attempt's reason: NoReason after
	// a success (probe_failure_reason's label).
	LastClass prober.Reason
	// LastStatusCode is the last response's HTTP status (three digits in
	// net/http, so it fits), 0 if none.
	LastStatusCode int16
	// lastLookup is LastLookup in microseconds (71 minutes at most).
	lastLookup uint32
	// history holds the last HistoryLen results, oldest first, one byte
	// each: the result in the low 2 bits (0: the slot is empty), how long
	// it took in the high 6 (see durationCode). With the small fields
	// above it fills four words: a Record is 136 bytes and a scheduler
	// worker 320, a size class below what a separate duration ring would
	// take (TestRecordSize).
	history [HistoryLen]byte

	LastDuration time.Duration

	Successes, Failures, Errors uint64

	// LastReason is the last attempt's reason, worded as the kubelet's
	// events word it: "HTTP probe failed with statuscode: 500", "dial tcp
	// 10.0.0.1:80: connect: connection refused"; empty after a success.
	// LastOutput is the last attempt's output (a body, command output),
	// capped at MaxOutput bytes. Neither is ever a label.
	LastReason, LastOutput string

	// TLS is what the last completed handshake of an HTTPS probe showed
	// (the probe_ssl_* and probe_tls_* gauges), kept while later attempts
	// complete none: a certificate's expiry stays known while its server
	// is down. Nil for a probe that never completed one. Shared, read only.
	TLS *prober.TLSFacts
}

// LastLookup is how long the last attempt that resolved a name took to
// resolve it, to the microsecond.
func (r *Record) LastLookup() time.Duration {
	return time.Duration(r.lastLookup) * time.Microsecond
}

// HistoryLen is how many recent results a Record keeps.
const HistoryLen = 20

// MaxOutput caps the output a Record keeps.
const MaxOutput = 256

// Result codes in a Record's history.
const (
	HistorySuccess = 1
	HistoryFailure = 2
	HistoryError   = 3
)

func (r *Record) remember(code byte, took time.Duration) {
	copy(r.history[:], r.history[1:])
	r.history[HistoryLen-1] = code | durationCode(took)<<2
}

// Past is one kept result: a History* code and how long it took, to
// within 12.3 % (DurationPrecision).
type Past struct {
	Result uint8
	Took   time.Duration
}

// History returns the kept results, oldest first.
func (r *Record) History() []Past {
	first := 0
	for first < HistoryLen && r.history[first]&3 == 0 {
		first++
	}
	out := make([]Past, HistoryLen-first)
	for i, b := range r.history[first:] {
		out[i] = Past{Result: b & 3, Took: durationOf(b >> 2)}
	}
	return out
}

// A kept duration is a 6-bit code on a log scale, three steps an octave
// from durationFloor: 10 µs to 21 s in 64 codes, each within 12.3 % of what
// it stands for (2^(1/6)), which a sparkline 20 pixels high cannot show.
// Shorter durations keep the floor's code, longer ones the ceiling's.
const (
	durationFloor     = 10 * time.Microsecond
	durationSteps     = 3 // per octave
	durationCodes     = 64
	DurationPrecision = 0.123 // 2^(1/6) - 1, rounded up
)

// DurationCeiling is the longest duration History tells apart.
var DurationCeiling = durationOf(durationCodes - 1)

func durationCode(d time.Duration) byte {
	if d <= durationFloor {
		return 0
	}
	c := math.Round(durationSteps * math.Log2(float64(d)/float64(durationFloor)))
	return byte(min(c, durationCodes-1))
}

func durationOf(c byte) time.Duration {
	return time.Duration(float64(durationFloor) * math.Exp2(float64(c)/durationSteps))
}

func capOutput(s string) string {
	if len(s) <= MaxOutput {
		return s
	}
	// Cut on a rune boundary, so that what is kept is valid text.
	cut := MaxOutput
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Apply records the final outcome of one tick (after the kubelet's retries
// on error) and reports whether the thresholded value changed. An outcome
// with an error is counted and otherwise discarded, as the kubelet does:
// it moves neither the value nor the run.
func (r *Record) Apply(o prober.Outcome, took time.Duration, now time.Time) bool {
	r.Attempted = true
	r.LastDuration = took
	r.LastStatusCode = int16(min(max(o.StatusCode, 0), math.MaxInt16))
	if o.LookedUp {
		r.LookedUp, r.lastLookup = true, uint32(min((o.Lookup+time.Microsecond/2)/time.Microsecond, math.MaxUint32))
	}
	if o.TLS != nil {
		r.TLS = o.TLS
	}
	if o.Err != nil {
		r.LastSuccess = false
		r.Errors++
		r.LastReason, r.LastOutput = capOutput(o.Err.Error()), ""
		r.LastClass = classOf(o)
		r.remember(HistoryError, took)
		return false
	}
	v := ResultValue(o.Result)
	r.LastSuccess = v == Success
	r.LastOutput = capOutput(o.Output)
	if v == Success {
		r.Successes++
		r.LastReason, r.LastClass = "", prober.NoReason
		r.remember(HistorySuccess, took)
	} else {
		r.Failures++
		// The kubelet's event text is the prober's output on failure;
		// a command's trailing newline is no part of a reason (a log
		// line, a table row, a status page).
		r.LastReason = strings.TrimRight(r.LastOutput, " \t\r\n")
		r.LastClass = classOf(o)
		r.remember(HistoryFailure, took)
	}
	return r.Observe(v, now)
}

// classOf is a failed or errored outcome's class: Other when its prober
// gave none.
func classOf(o prober.Outcome) prober.Reason {
	if o.Reason == prober.NoReason {
		return prober.Other
	}
	return o.Reason
}

// ResultValue maps a prober result without error to the cached result, as
// prober.go probe() does: a warning is a success, unknown is a failure.
func ResultValue(r prober.Result) Value {
	if r == prober.Success || r == prober.Warning {
		return Success
	}
	return Failure
}
