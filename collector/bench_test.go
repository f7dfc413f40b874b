package collector

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
)

// BenchmarkScrape serves /metrics for n targets with one probe each, in
// each format Prometheus negotiates (text, OpenMetrics, delimited
// protobuf; OpenMetrics gzipped, Prometheus' default): client_golang's path (the baseline, from the same families
// table) and the direct one /metrics uses, in the same run. It reports
// each scrape's time, bytes and peak heap above what was live before it
// (after a collection; sampled every millisecond, garbage included: what
// RSS sees), and the direct path's time and peak over the baseline's.
func BenchmarkScrape(b *testing.B) {
	formats := []struct {
		name, accept string
		gzip         bool
	}{
		{"text", "text/plain;version=0.0.4", false},
		{"openmetrics", "application/openmetrics-text;version=1.0.0", false},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", false},
		// What Prometheus asks for by default.
		{"openmetrics-gzip", "application/openmetrics-text;version=1.0.0", true},
	}
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
			slow := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
			fast := Handler(c, prometheus.NewRegistry(), slow, slog.New(slog.DiscardHandler))
			for _, f := range formats {
				b.Run(f.name, func(b *testing.B) {
					var baseTime, basePeak float64
					for _, path := range []struct {
						name string
						h    http.Handler
					}{{"client_golang", slow}, {"direct", fast}} {
						b.Run(path.name, func(b *testing.B) {
							b.ReportAllocs()
							var bytes int
							var peak uint64
							for i := 0; i < b.N; i++ {
								rec := &countingWriter{header: http.Header{}}
								req := httptest.NewRequest("GET", "/metrics", nil)
								req.Header.Set("Accept", f.accept)
								if f.gzip {
									req.Header.Set("Accept-Encoding", "gzip")
								}
								b.StopTimer()
								runtime.GC()
								b.StartTimer()
								peak = max(peak, peakHeap(func() { path.h.ServeHTTP(rec, req) }))
								bytes = rec.n
							}
							perScrape := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
							b.ReportMetric(perScrape/float64(8*n+1), "ns/series")
							b.ReportMetric(float64(bytes), "bytes/scrape")
							b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
							if path.name == "client_golang" {
								baseTime, basePeak = perScrape, float64(peak)
							} else if baseTime > 0 {
								b.ReportMetric(perScrape/baseTime, "x-client_golang")
								b.ReportMetric(float64(peak)/basePeak, "peak-x-client_golang")
							}
						})
					}
				})
			}
		})
	}
}

// peakHeap runs f and returns the most heap (objects, live or not yet
// collected) it held above what was there before, sampled every
// millisecond.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// countingWriter is a ResponseWriter that only counts.
type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
