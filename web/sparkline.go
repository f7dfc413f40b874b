package web

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/probe-exporter/probe-exporter/state"
	"github.com/probe-exporter/probe-exporter/status"
)

// The sparkline's size in pixels: a slot per kept result, as wide as a
// bar of the strip of recent results above it (.strip span in
// targets.html), so that each point is under its result.
const (
	sparkStep   = 6
	sparkHeight = 20
)

// sparkline is a row's recent durations as an inline SVG, drawn on the
// server (no script, a few hundred bytes a row): a line from 0 at the
// bottom to the longest kept duration at the top, a dot on each failure
// and error in the strip's colours. Its title says the range in words.
// A row without durations (not probed yet) has none.
func sparkline(r status.Row) template.HTML {
	d := r.HistoryDurationsSeconds
	if len(d) == 0 || len(d) != len(r.History) {
		return ""
	}
	longest, shortest := d[0], d[0]
	for _, s := range d {
		longest, shortest = max(longest, s), min(shortest, s)
	}
	// 2 px inside the edges: a dot (r 1.8) at either end stays whole.
	y := func(s float64) float64 {
		if longest <= 0 {
			return sparkHeight - 2
		}
		return sparkHeight - 2 - s/longest*(sparkHeight-4)
	}
	// Oldest first from the left, as the strip.
	x := func(i int) string { return strconv.Itoa(i*sparkStep + sparkStep/2) }
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

	title := "last " + strconv.Itoa(len(d)) + " attempt"
	if len(d) != 1 {
		title += "s"
	}
	title += ": " + roundDuration(seconds(shortest)) + " to " + roundDuration(seconds(longest))

	var b strings.Builder
	w := strconv.Itoa(state.HistoryLen * sparkStep)
	b.WriteString(`<svg class="spark" role="img" width="` + w + `" height="` + strconv.Itoa(sparkHeight) +
		`" viewBox="0 0 ` + w + ` ` + strconv.Itoa(sparkHeight) + `"><title>` + template.HTMLEscapeString(title) + `</title>`)
	if len(d) > 1 {
		b.WriteString(`<polyline fill="none" stroke="#555" stroke-width="1" points="`)
		for i, s := range d {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(x(i) + "," + num(y(s)))
		}
		b.WriteString(`"/>`)
	}
	// The dots: a path of zero-length segments with round caps per
	// colour, a fifth of the bytes of a circle each (a failing row has up
	// to 20, and the first page is failing rows).
	dots := func(colour string, at func(i int) bool) {
		var path []string
		for i, s := range d {
			if at(i) {
				path = append(path, "M"+x(i)+" "+num(y(s))+"h0")
			}
		}
		if len(path) > 0 {
			b.WriteString(`<path fill="none" stroke="` + colour + `" stroke-width="3.6" stroke-linecap="round" d="` + strings.Join(path, "") + `"/>`)
		}
	}
	dots("#d43a3a", func(i int) bool { return r.History[i] == "failure" })
	dots("#e0a030", func(i int) bool { return r.History[i] == "error" })
	dots("#555", func(i int) bool { return len(d) == 1 && r.History[i] == "success" }) // no line to draw yet
	b.WriteString(`</svg>`)
	// Built from numbers, fixed text and an escaped title only.
	return template.HTML(b.String())
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
