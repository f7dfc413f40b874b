package collector

import (
	"bufio"
	"bytes"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/probe-exporter/probe-exporter/series"
)

// The per-probe series are most of a scrape: 8-9 per probe, so 800k lines
// at 100k targets. Through client_golang's const metrics that took 5 s and
// 800 MB per scrape (BenchmarkScrape). Here they are written straight to
// the response in the text or OpenMetrics format, from label text built
// once per probe, as kube-state-metrics does (protobuf: proto.go);
// everything else (self metrics, Go and process metrics) still goes
// through the registry.

type textWriter struct {
	*bufio.Writer
	om  bool
	buf [32]byte
}

func (w *textWriter) sample(name, labels, extra string, v float64) {
	w.WriteString(name)
	w.WriteByte('{')
	w.WriteString(labels)
	if extra != "" {
		w.WriteByte(',')
		w.WriteString(extra)
	}
	w.end(v)
}

// labelled writes a sample with the pair (result="...", reason="...") in
// its sorted place, at.
func (w *textWriter) labelled(name, text string, at int, res string, v float64) {
	w.WriteString(name)
	w.WriteByte('{')
	w.WriteString(text[:at])
	if at > 0 && at == len(text) {
		w.WriteByte(',')
	}
	w.WriteString(res)
	if at < len(text) {
		w.WriteByte(',')
		w.WriteString(text[at:])
	}
	w.end(v)
}

// merged writes an info family's sample (valued 1): the probe's label
// pairs with the family's own (names sorted) each in its sorted place,
// the probe's copied from its text.
func (w *textWriter) merged(name string, sn *sample, names, values []string) {
	w.WriteString(name)
	w.WriteByte('{')
	l := sn.labels
	off, j, sep := 0, 0, false
	pair := func(n, v string) {
		if sep {
			w.WriteByte(',')
		}
		sep = true
		w.WriteString(n)
		w.WriteString(`="`)
		writeEscaped(w.Writer, v)
		w.WriteByte('"')
	}
	for _, i := range l.Names.Order() {
		own := l.Names.Names[i]
		for j < len(names) && names[j] < own {
			pair(names[j], values[j])
			j++
		}
		size := len(own) + len(`=""`) + escapedLen(l.Values[i])
		if sep {
			w.WriteByte(',')
		}
		sep = true
		w.WriteString(sn.text[off : off+size])
		off += size + 1 // and its ','
	}
	for ; j < len(names); j++ {
		pair(names[j], values[j])
	}
	w.end(1)
}

// escapedLen is the length of v escaped as a label value.
func escapedLen(v string) int {
	n := len(v)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\\' || c == '\n' || c == '"' {
			n++
		}
	}
	return n
}

// writeEscaped writes v escaped as a label value, without allocating.
func writeEscaped(w *bufio.Writer, v string) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			w.WriteString(`\\`)
		case '\n':
			w.WriteString(`\n`)
		case '"':
			w.WriteString(`\"`)
		default:
			w.WriteByte(c)
		}
	}
}

func (w *textWriter) end(v float64) {
	w.WriteString("} ")
	w.Write(appendFloat(w.buf[:0], v, w.om))
	w.WriteByte('\n')
}

// appendFloat formats v as expfmt does: 'g' for the text format, and for
// OpenMetrics with ".0" on integral values.
func appendFloat(b []byte, v float64, om bool) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	if v > -1e6 && v < 1e6 && v == math.Trunc(v) && (v != 0 || !math.Signbit(v)) {
		// Integral and under 1e6: what 'g' writes is the integer (it
		// switches to an exponent at 1e6), at a fraction of the cost.
		b = strconv.AppendInt(b, int64(v), 10)
		if om {
			b = append(b, ".0"...)
		}
		return b
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if om && !bytes.ContainsAny(b[n:], "e.") {
		b = append(b, ".0"...)
	}
	return b
}

var targetNames = series.NewNames([]string{"target"})

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// writeText writes every per-probe family and probe_exporter_targets in
// the text format, or OpenMetrics when om is set (without the final
// "# EOF", which belongs after the registry's families).
func (s *snapshot) writeText(out *bufio.Writer, om bool) {
	w := &textWriter{Writer: out, om: om}
	header := func(name, typ, help string) {
		if om && typ == "counter" {
			name = strings.TrimSuffix(name, "_total")
		}
		w.WriteString("# HELP ")
		w.WriteString(name)
		w.WriteByte(' ')
		if om {
			// OpenMetrics escapes double quotes in HELP too.
			w.WriteString(strings.ReplaceAll(helpEscaper.Replace(help), `"`, `\"`))
		} else {
			w.WriteString(helpEscaper.Replace(help))
		}
		w.WriteString("\n# TYPE ")
		w.WriteString(name)
		w.WriteByte(' ')
		w.WriteString(typ)
		w.WriteByte('\n')
	}
	samples := s.samples
	for fi, f := range families {
		if len(samples) == 0 {
			break
		}
		if f.tls && s.withTLS == 0 {
			continue
		}
		typ := "gauge"
		if f.counter {
			typ = "counter"
		}
		// The header comes with the first sample: a family no probe has
		// a sample of (no probe has resolved a name yet) is left out, as
		// client_golang leaves it out.
		headed := false
		for i := range samples {
			sn := &samples[i]
			if f.results != nil {
				if !headed {
					header(f.name, typ, f.help)
					headed = true
				}
				vs := f.results(sn)
				for r, v := range vs {
					w.labelled(f.name, sn.text, int(sn.resultAt), resultPairs[r], v)
				}
			} else if f.reason != nil {
				if r, ok := f.reason(sn); ok {
					if !headed {
						header(f.name, typ, f.help)
						headed = true
					}
					w.labelled(f.name, sn.text, int(sn.reasonAt), reasonPairs[r], 1)
				}
			} else if f.info != nil {
				if vs := infoOf(&families[fi], sn); vs != nil {
					if !headed {
						header(f.name, typ, f.help)
						headed = true
					}
					w.merged(f.name, sn, f.labels, vs)
				}
			} else if v, ok := f.value(sn); ok {
				if !headed {
					header(f.name, typ, f.help)
					headed = true
				}
				w.sample(f.name, sn.text, "", v)
			}
		}
	}
	// probe_exporter_targets: distinct targets per entry, counted by the
	// scheduler, not inferred from the order probes come in.
	if len(s.targets) > 0 {
		header(targetsFamily.name, "gauge", targetsFamily.help)
		for _, e := range s.targets {
			w.sample(targetsFamily.name, series.New(targetNames, []string{e.entry}).Text(), "", float64(e.n))
		}
	}
}

// acceptsGzip reads Accept-Encoding with its q-values (RFC 9110 12.5.3):
// gzip's own entry decides, else "*"'s; q=0 means "not acceptable".
func acceptsGzip(r *http.Request) bool {
	gzip, star := -1.0, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0 // a malformed weight accepts nothing
				}
				q = f
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzip = max(gzip, q)
		case "*":
			star = q
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}
