package collector

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
)

// BenchmarkScrape serves /metrics for n targets with one probe each: the
// client_golang path (baseline) and the direct text path /metrics uses,
// in the same run; "x-client_golang" is the second's time over the first.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			cfg := &config.Entry{Name: "web", Labels: map[string]string{"team": "payments"},
				ReadinessProbe: &probe.Probe{HTTPGet: &probe.HTTPGetAction{Path: "/", Port: probe.IntOrString{IntVal: 80}, Scheme: "HTTP"},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}}
			g := discovery.Group{Source: "static/web"}
			for i := 0; i < n; i++ {
				g.Targets = append(g.Targets, discovery.Target{Host: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
			}
			e, err := targets.NewEntry(cfg, prober.NewEnv(prober.EnvOptions{}))
			if err != nil {
				b.Fatal(err)
			}
			s := scheduler.New(scheduler.Options{}, nil)
			s.Sync(g.Source, e.Targets(g))
			c := New(s)
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			slow := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			fast := Handler(c, prometheus.NewRegistry(), slow, slog.New(slog.DiscardHandler))
			var base float64
			for _, path := range []struct {
				name string
				h    http.Handler
			}{{"client_golang", slow}, {"direct", fast}} {
				b.Run(path.name, func(b *testing.B) {
					b.ReportAllocs()
					var bytes int
					for i := 0; i < b.N; i++ {
						rec := &countingWriter{header: http.Header{}}
						path.h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
						bytes = rec.n
					}
					perScrape := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(perScrape/float64(8*n+1), "ns/series")
					b.ReportMetric(float64(bytes), "bytes/scrape")
					if path.name == "client_golang" {
						base = perScrape
					} else if base > 0 {
						b.ReportMetric(perScrape/base, "x-client_golang")
					}
				})
			}
		})
	}
}

// countingWriter is a ResponseWriter that only counts.
type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
