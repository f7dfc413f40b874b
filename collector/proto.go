package collector

import (
	"bufio"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/probe-exporter/probe-exporter/series"
)

// The per-probe families in delimited protobuf (io.prometheus.client's
// MetricFamily, what client_golang sends for
// application/vnd.google.protobuf), written straight from the snapshot
// as the text formats are: through client_golang they took 9 s and 800 MB
// a scrape at 100k probes. Each family is one message, so its size is
// counted first in a pass that writes nothing.

// Field numbers of io.prometheus.client's messages.
const (
	familyName, familyHelp, familyType, familyMetric = 1, 2, 3, 4
	metricLabel, metricGauge, metricCounter          = 1, 2, 3
	pairName, pairValue                              = 1, 2
	valueField                                       = 1
	typeCounter, typeGauge                           = 0, 1
)

// sizedField is the size of a length-delimited field holding n bytes.
func sizedField(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// valueSize is a Gauge's or Counter's field in a Metric: one double.
var valueSize = sizedField(1 + 8)

func pairSize(name, value string) int {
	return sizedField(sizedField(len(name)) + sizedField(len(value)))
}

// extra is a family's own label pair (result="...", reason="..."), beside
// the probe's, none when name is empty; or an info family's pairs (names
// sorted, values lined up).
type extra struct {
	name, value   string
	names, values []string
}

// metricSize is the Metric message of a sample: its label pairs, with x
// in its place when set, and its value.
func metricSize(l *series.Labels, x extra) int {
	n := valueSize
	for _, i := range l.Names.Order() {
		n += pairSize(l.Names.Names[i], l.Values[i])
	}
	if x.name != "" {
		n += pairSize(x.name, x.value)
	}
	for j, name := range x.names {
		n += pairSize(name, x.values[j])
	}
	return n
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendPair(b []byte, name, value string) []byte {
	b = protowire.AppendTag(b, metricLabel, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizedField(len(name))+sizedField(len(value))))
	b = appendString(b, pairName, name)
	return appendString(b, pairValue, value)
}

// appendMetric appends the Metric field of a sample, of size
// metricSize(l, x), to b.
func appendMetric(b []byte, l *series.Labels, x extra, size int, counter bool, v float64) []byte {
	b = protowire.AppendTag(b, familyMetric, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	written, j := x.name == "", 0
	for _, i := range l.Names.Order() {
		name := l.Names.Names[i]
		if !written && name > x.name {
			b = appendPair(b, x.name, x.value)
			written = true
		}
		for ; j < len(x.names) && x.names[j] < name; j++ {
			b = appendPair(b, x.names[j], x.values[j])
		}
		b = appendPair(b, name, l.Values[i])
	}
	if !written {
		b = appendPair(b, x.name, x.value)
	}
	for ; j < len(x.names); j++ {
		b = appendPair(b, x.names[j], x.values[j])
	}
	field := protowire.Number(metricGauge)
	if counter {
		field = metricCounter
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, 1+8)
	b = protowire.AppendTag(b, valueField, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

// writeFamily writes one family: its header, then each metric from emit,
// which is called twice — to count the family's size, then to write.
func writeFamily(w *bufio.Writer, name, help string, counter bool, emit func(add func(l *series.Labels, x extra, v float64))) {
	body := 0
	emit(func(l *series.Labels, x extra, _ float64) { body += sizedField(metricSize(l, x)) })
	if body == 0 {
		return // no samples: left out, as client_golang leaves it out
	}
	typ := uint64(typeGauge)
	if counter {
		typ = typeCounter
	}
	head := sizedField(len(name)) + sizedField(len(help)) + 1 + protowire.SizeVarint(typ)
	b := protowire.AppendVarint(make([]byte, 0, 512), uint64(head+body))
	b = appendString(b, familyName, name)
	b = appendString(b, familyHelp, help)
	b = protowire.AppendTag(b, familyType, protowire.VarintType)
	b = protowire.AppendVarint(b, typ)
	w.Write(b)
	emit(func(l *series.Labels, x extra, v float64) {
		b = appendMetric(b[:0], l, x, metricSize(l, x), counter, v)
		w.Write(b)
	})
}

// writeProto writes every per-probe family and probe_exporter_targets.
func (s *snapshot) writeProto(w *bufio.Writer) {
	samples := s.samples
	for _, f := range families {
		if f.tls && s.withTLS == 0 {
			continue
		}
		writeFamily(w, f.name, f.help, f.counter, func(add func(*series.Labels, extra, float64)) {
			for i := range samples {
				sn := &samples[i]
				if f.results != nil {
					for r, v := range f.results(sn) {
						add(sn.labels, extra{name: series.Result, value: resultValues[r]}, v)
					}
				} else if f.reason != nil {
					if r, ok := f.reason(sn); ok {
						add(sn.labels, extra{name: series.Reason, value: r.String()}, 1)
					}
				} else if f.info != nil {
					if vs := infoOf(&f, sn); vs != nil {
						add(sn.labels, extra{names: f.labels, values: vs}, 1)
					}
				} else if v, ok := f.value(sn); ok {
					add(sn.labels, extra{}, v)
				}
			}
		})
	}
	writeFamily(w, targetsFamily.name, targetsFamily.help, false, func(add func(*series.Labels, extra, float64)) {
		for _, e := range s.targets {
			add(series.New(targetNames, []string{e.entry}), extra{}, float64(e.n))
		}
	})
}
