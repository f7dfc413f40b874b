package web

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/probe-exporter/probe-exporter/status"
)

func TestSparkline(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		history   []string
		durations []float64
		want      []string // in order
		not       []string
	}{
		{name: "not probed yet"},
		{name: "durations and results disagree", history: []string{"success"}, durations: []float64{0.1, 0.2}},
		{name: "one success: a dot, no line", history: []string{"success"}, durations: []float64{0.002},
			want: []string{`<title>last 1 attempt: 2ms to 2ms</title>`, `<path fill="none" stroke="#555" stroke-width="3.6" stroke-linecap="round" d="M3 2.0h0"/>`},
			not:  []string{"polyline"}},
		{name: "oldest at the left, as the strip; longest at the top; a dot on each failure and error",
			history: []string{"success", "failure", "error"}, durations: []float64{0.001, 0.004, 0.002},
			want: []string{`<title>last 3 attempts: 1ms to 4ms</title>`,
				`points="3,14.0 9,2.0 15,10.0"`,
				`<path fill="none" stroke="#d43a3a" stroke-width="3.6" stroke-linecap="round" d="M9 2.0h0"/>`,
				`<path fill="none" stroke="#e0a030" stroke-width="3.6" stroke-linecap="round" d="M15 10.0h0"/>`},
			not: []string{`stroke="#555" stroke-width="3.6"`}},
		{name: "under a millisecond in µs", history: []string{"success", "success"}, durations: []float64{0.000042, 0.000084},
			want: []string{`last 2 attempts: 42µs to 84µs`, `points="3,10.0 9,2.0"`}},
		{name: "all zero: the bottom line", history: []string{"success", "success"}, durations: []float64{0, 0},
			want: []string{`points="3,18.0 9,18.0"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := string(sparkline(status.Row{History: c.history, HistoryDurationsSeconds: c.durations}))
			if c.want == nil {
				if got != "" {
					t.Fatalf("got %s, want none", got)
				}
				return
			}
			// A well-formed SVG element of its own.
			var svg struct {
				XMLName xml.Name `xml:"svg"`
				Width   int      `xml:"width,attr"`
			}
			if err := xml.Unmarshal([]byte(got), &svg); err != nil || svg.Width != 120 {
				t.Fatalf("not an SVG 120 wide (%v): %s", err, got)
			}
			at := 0
			for _, w := range c.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("lacks %s (in order) in %s", w, got)
				}
				at += i + len(w)
			}
			for _, n := range c.not {
				if strings.Contains(got, n) {
					t.Errorf("has %s: %s", n, got)
				}
			}
		})
	}
}
