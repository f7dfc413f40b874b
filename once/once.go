// Package once runs every configured probe until each (target, kind) has
// the answer its thresholds give, for --once: what a bastion user or a CI
// job asks ("does it pass from here?"), answered exactly as the running
// exporter would report it.
package once

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/state"
)

// Result is one (target, kind)'s answer.
type Result struct {
	Target  string            `json:"target"`
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Labels  map[string]string `json:"labels,omitempty"`
	// State is success, failure or unknown: unknown when the thresholds
	// gave no answer before the deadline (or the probe could not run).
	State  string `json:"state"`
	Reason string `json:"reason"`
	// InARow of Threshold results of the kind Result decided the state:
	// the threshold itself once it answered, the run so far when it had
	// not by the deadline. Threshold 0: not run.
	Result    string `json:"result,omitempty"`
	InARow    int32  `json:"inARow"`
	Threshold int32  `json:"threshold"`
	// Attempts counts every attempt made (they go on until the slowest
	// probe has its answer); Duration is the last one's.
	Attempts uint64  `json:"attempts"`
	Duration float64 `json:"durationSeconds"`
}

// Run polls s until discovery is synced and every probe has settled or
// cannot run (a liveness or readiness probe whose startup probe settled
// on failure), or until ctx ends, and returns the results sorted by
// target, address and kind.
func Run(ctx context.Context, s state.Reader, synced func() bool, poll time.Duration) []Result {
	start := time.Now()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if synced() {
			if rs, done := collect(s, 0); done {
				return rs
			}
		}
		select {
		case <-ctx.Done():
			waited := time.Since(start)
			if dl, ok := ctx.Deadline(); ok {
				waited = dl.Sub(start)
			}
			if waited >= time.Second {
				waited = waited.Round(time.Second)
			} else {
				waited = waited.Round(time.Millisecond)
			}
			rs, _ := collect(s, waited)
			return rs
		case <-t.C:
		}
	}
}

// collect reads every probe once and says whether all have an answer;
// waited, when not 0, is how long they had: the reason of one without an
// answer says so.
func collect(s state.Reader, waited time.Duration) ([]Result, bool) {
	type key struct{ entry, target string }
	startupFailed := map[key]bool{}
	var sts []state.View
	s.Each(func(st *state.View) {
		sts = append(sts, *st)
		if st.Kind == probe.Startup && st.Record.Settled() && st.Record.Value() != state.Success {
			startupFailed[key{st.Entry, st.Key}] = true
		}
	})
	done := true
	out := make([]Result, 0, len(sts))
	for _, st := range sts {
		rec := st.Record
		r := Result{
			Target:   st.Entry,
			Kind:     st.Kind.String(),
			Address:  st.Labels.Address(),
			Labels:   extraLabels(st),
			Attempts: rec.Successes + rec.Failures + rec.Errors,
			Duration: rec.LastDuration.Seconds(),
			Reason:   rec.LastReason,
			State:    "unknown",
		}
		last, run := rec.Run()
		r.Result, r.InARow, r.Threshold = resultWord(last), run, threshold(&st, last)
		switch {
		case rec.Settled():
			r.State = rec.Value().String()
			// Decided by the threshold's count (a startup probe that
			// succeeded is done and counts no more).
			r.Result, r.InARow, r.Threshold = resultWord(rec.Value()), threshold(&st, rec.Value()), threshold(&st, rec.Value())
		case st.Kind != probe.Startup && startupFailed[key{st.Entry, st.Key}]:
			r.Reason = "not run: the startup probe has not succeeded"
			r.Result, r.InARow, r.Threshold = "", 0, 0
		default:
			done = false
			if !rec.Attempted || run == 0 {
				r.Result, r.InARow = "", 0
			}
			r.Reason = noAnswer(waited, r)
		}
		if r.State == "success" {
			r.Reason = ""
		}
		out = append(out, r)
	}
	return Sort(out), done
}

// resultWord is a result as a row says it.
func resultWord(v state.Value) string {
	if v == state.Success {
		return "success"
	}
	return "failure"
}

// threshold is the count of results like v that decides a state.
func threshold(sp *state.View, v state.Value) int32 {
	if v == state.Success {
		return sp.SuccessThreshold
	}
	return sp.FailureThreshold
}

// noAnswer is the reason of a probe without an answer: how far it got,
// and its last attempt's reason.
func noAnswer(waited time.Duration, r Result) string {
	why := "no answer yet from the thresholds"
	if waited > 0 {
		why = "no answer in " + waited.String()
	}
	if r.InARow > 0 {
		why += fmt.Sprintf(" (%s)", inARow(r))
	} else {
		why += " (no attempt finished)"
	}
	if r.Reason != "" {
		why += ": " + r.Reason
	}
	return why
}

// inARow says r's run against its threshold: "2 of 3 failures".
func inARow(r Result) string {
	if r.Threshold == 0 || r.Result == "" {
		return "-"
	}
	word := r.Result
	if r.Threshold != 1 {
		word = map[string]string{"success": "successes", "failure": "failures"}[r.Result]
	}
	return fmt.Sprintf("%d of %d %s", r.InARow, r.Threshold, word)
}

// Sort orders results by target, address and kind.
func Sort(rs []Result) []Result {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		return a.Kind < b.Kind
	})
	return rs
}

// extraLabels are a probe's labels beyond target, kind and address.
func extraLabels(st state.View) map[string]string {
	names, values := st.Labels.Names.Names, st.Labels.Values
	if len(names) <= 3 {
		return nil
	}
	m := make(map[string]string, len(names)-3)
	for i := 3; i < len(names); i++ {
		m[names[i]] = values[i]
	}
	return m
}

// ExitCode is 0 when every result is success, 1 otherwise (and when there
// is none: nothing was checked).
func ExitCode(rs []Result) int {
	if len(rs) == 0 {
		return 1
	}
	for _, r := range rs {
		if r.State != "success" {
			return 1
		}
	}
	return 0
}

// WriteTable prints rs as a table, one line each.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tADDRESS\tKIND\tSTATE\tIN A ROW\tDURATION\tREASON")
	for _, r := range rs {
		duration := "-"
		if r.Attempts > 0 {
			duration = Human(time.Duration(r.Duration * float64(time.Second)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Address, r.Kind, r.State, inARow(r), duration, oneLine(r.Reason))
	}
	return tw.Flush()
}

// Human is a duration as people read one in a table: µs under a
// millisecond, ms to a tenth under a second, seconds to a hundredth
// above (a 336 µs attempt read "0s").
func Human(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// WriteJSON prints rs as a JSON array.
func WriteJSON(w io.Writer, rs []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rs)
}

// oneLine keeps a reason (command output, say) on its table line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " | ")
}
