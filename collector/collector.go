// Package collector renders probe state as Prometheus metrics at scrape
// time, as kube-state-metrics does: a target that is gone has no series on
// the next scrape, with no deletion bookkeeping to get wrong.
package collector

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// Collector renders per-(target, kind) series and the target counts: as
// text, OpenMetrics and protobuf directly (Preparer), and as a
// prometheus.Collector for the protobuf text formats, both from the
// families table.
type Collector struct {
	src state.Reader

	mu    sync.Mutex
	descs map[*series.Names]*descs

	// lastProbes sizes the next scrape's snapshot, so it is allocated once
	// rather than grown by doubling.
	lastProbes atomic.Int64
}

// New returns a Collector over src.
func New(src state.Reader) *Collector {
	return &Collector{src: src, descs: map[*series.Names]*descs{}}
}

// descs are the families' descriptors for one label schema.
type descs struct {
	byFamily []*prometheus.Desc
	seen     bool
}

func newDescs(names []string) *descs {
	d := &descs{byFamily: make([]*prometheus.Desc, len(families))}
	for i, f := range families {
		labels := append([]string(nil), names...)
		if f.results != nil {
			labels = append(labels, series.Result)
		}
		if f.reason != nil {
			labels = append(labels, series.Reason)
		}
		labels = append(labels, f.labels...)
		d.byFamily[i] = prometheus.NewDesc(f.name, f.help, labels, nil)
	}
	return d
}

var targetsDesc = prometheus.NewDesc(targetsFamily.name, targetsFamily.help, []string{"target"}, nil)

// Describe sends nothing: series of different entries carry different
// label names, so the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect renders the current state of every probe.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.descs {
		d.seen = false
	}
	c.src.Each(func(st *state.View) {
		s := sampleOf(st)
		d := c.descs[s.labels.Names]
		if d == nil {
			d = newDescs(s.labels.Names.Names)
			c.descs[s.labels.Names] = d
		}
		d.seen = true
		values := s.labels.Values
		for i, f := range families {
			typ := prometheus.GaugeValue
			if f.counter {
				typ = prometheus.CounterValue
			}
			if f.results != nil {
				for r, v := range f.results(&s) {
					lv := append(values[:len(values):len(values)], resultValues[r])
					ch <- prometheus.MustNewConstMetric(d.byFamily[i], typ, v, lv...)
				}
			} else if f.reason != nil {
				if r, ok := f.reason(&s); ok {
					lv := append(values[:len(values):len(values)], r.String())
					ch <- prometheus.MustNewConstMetric(d.byFamily[i], typ, 1, lv...)
				}
			} else if f.info != nil {
				if vs := infoOf(&families[i], &s); vs != nil {
					lv := append(values[:len(values):len(values)], vs...)
					ch <- prometheus.MustNewConstMetric(d.byFamily[i], typ, 1, lv...)
				}
			} else if v, ok := f.value(&s); ok {
				ch <- prometheus.MustNewConstMetric(d.byFamily[i], typ, v, values...)
			}
		}
	})
	for k, d := range c.descs {
		if !d.seen {
			delete(c.descs, k) // an entry that went away with a reload
		}
	}
	for entry, n := range c.src.Targets() {
		ch <- prometheus.MustNewConstMetric(targetsDesc, prometheus.GaugeValue, float64(n), entry)
	}
}
