package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/replicas"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// fleet is n readiness probes as the Kubernetes source makes them — a
// pod's labels, a shared httpGet definition per entry — each with a full
// history (20 results and their durations); one in ten failing with the
// kubelet's reason, one in a hundred erroring. A page of it is as large
// as a page gets.
func fleet(n int) probes {
	names := series.NewNames([]string{"target", "kind", "address", "namespace", "service", "pod", "node", "container"})
	defs := make([]*probe.Probe, 50)
	for i := range defs {
		defs[i] = &probe.Probe{HTTPGet: &probe.HTTPGetAction{Path: "/healthz/ready", Port: probe.IntOrString{IntVal: 8080}, Scheme: "HTTP"},
			PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	}
	appeared := time.Now().Add(-time.Hour)
	out := make(probes, n)
	for i := range out {
		rec := state.Record{Machine: state.NewMachine(probe.Readiness, 1, 3, appeared)}
		for a := range state.HistoryLen {
			o := prober.Outcome{Result: prober.Success, StatusCode: 200, Output: "ok"}
			switch {
			case i%100 == 0 && a%4 == 0:
				o = prober.Outcome{Err: fmt.Errorf("dial tcp 10.%d.%d.%d:8080: connect: connection refused", i>>16&255, i>>8&255, i&255), Reason: prober.ConnectionRefused}
			case i%10 == 0 && a > 10:
				o = prober.Outcome{Result: prober.Failure, StatusCode: 503, Reason: prober.HTTPStatus,
					Output: "HTTP probe failed with statuscode: 503"}
			}
			rec.Apply(o, time.Duration(200+(i*7+a*131)%5000)*time.Microsecond, appeared.Add(time.Duration(a)*10*time.Second))
		}
		entry := fmt.Sprintf("shop-%02d", i%50)
		address := fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255)
		out[i] = state.View{Entry: entry, Key: address, Kind: probe.Readiness, Handler: prober.HTTPGet, SuccessThreshold: 1, FailureThreshold: 3,
			Definition: defs[i%50], Record: rec, Next: time.Now().Add(time.Duration(i%10) * time.Second),
			Labels: series.New(names, []string{entry, "readiness", address, fmt.Sprintf("team-%02d", i%50), entry,
				fmt.Sprintf("%s-7d9f8b6c5-%05d", entry, i), fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i%7, i%13), "app"})}
	}
	return out
}

// BenchmarkTargetsPage: the status view's first page at 100k probes
// (goals: built in 300 ms, at most 1 MB), as /targets and as
// /api/v1/targets, and across replicas (scope=all: this replica and each
// other at 100k probes, every one asked over loopback, on the same
// machine, so the time includes theirs). x-walk is the time over one
// bare walk of this replica's probes, measured in the same run (the
// least any view must do).
func BenchmarkTargetsPage(b *testing.B) {
	const n = 100_000
	probes := fleet(n)
	walk := func() time.Duration {
		const walks = 10
		start := time.Now()
		for range walks {
			failing := 0
			probes.Each(func(st *state.View) {
				if st.Record.Value() == state.Failure {
					failing++
				}
			})
		}
		return time.Since(start) / walks
	}
	site := func(name string) *Site { return &Site{Probes: probes, Replicas: &Replicas{Self: name}} }
	handler := func(s *Site) http.Handler {
		h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: s})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	for _, c := range []struct {
		name, path string
		replicas   int // others asked
	}{
		{"html", "/targets", 0},
		{"json", "/api/v1/targets", 0},
		{"html-3-replicas", "/targets?scope=all", 2},
		{"json-3-replicas", "/api/v1/targets?scope=all", 2},
		{"html-10-replicas", "/targets?scope=all", 9},
	} {
		b.Run(c.name, func(b *testing.B) {
			self := site("pe-0")
			var others fixedReplicas
			for i := range c.replicas {
				srv := httptest.NewServer(handler(site(fmt.Sprintf("pe-%d", i+1))))
				b.Cleanup(srv.Close)
				others = append(others, replicas.Replica{Name: fmt.Sprintf("pe-%d", i+1), URL: srv.URL + "/"})
			}
			self.Replicas.Source = others
			self.Replicas.Asker = &replicas.Asker{Client: &http.Client{}, Max: 100, Timeout: time.Minute, MaxBody: 4 << 20}
			h := handler(self)
			base := walk()
			var size int
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
				body, _ := io.ReadAll(rec.Body)
				if rec.Code != http.StatusOK || (c.replicas > 0 && strings.Contains(string(body), "not answering")) {
					b.Fatalf("%d: %.300s", rec.Code, body)
				}
				size = len(body)
			}
			b.StopTimer()
			b.ReportMetric(float64(size), "bytes/page")
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(base), "x-walk")
		})
	}
}
