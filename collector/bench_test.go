package collector

import (
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
)

// BenchmarkScrape renders a full scrape (gather and text encoding) of n
// targets with one probe each, as /metrics does; ns/series is the cost of
// one rendered series.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			cfg := &config.Target{Name: "web", Labels: map[string]string{"team": "payments"},
				ReadinessProbe: &config.Probe{HTTPGet: &config.HTTPGetAction{Path: "/", Port: config.IntOrString{IntVal: 80}, Scheme: "HTTP"},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}}
			g := discovery.Group{Source: "static/web"}
			for i := 0; i < n; i++ {
				g.Targets = append(g.Targets, discovery.Target{Host: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
			}
			e, err := targets.NewEntry(cfg)
			if err != nil {
				b.Fatal(err)
			}
			s := scheduler.New(scheduler.Options{}, nil)
			s.Sync(g.Source, e.Targets(g))
			reg := prometheus.NewRegistry()
			reg.MustRegister(New(s))
			b.ReportAllocs()
			b.ResetTimer()
			series := 0
			for i := 0; i < b.N; i++ {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				series = 0
				for _, mf := range mfs {
					series += len(mf.GetMetric())
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(series), "ns/series")
			b.ReportMetric(float64(series), "series")
		})
	}
}
