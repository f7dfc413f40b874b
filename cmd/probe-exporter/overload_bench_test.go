package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// BenchmarkOverload pins the binary to one core (GOMAXPROCS=1) and offers
// it more probes than that core can run: first its capacity, measured
// with far more targets at period 1 s than it can run and a small fixed
// bound (the least overhead per probe), then
// 1.2 times that capacity under fixed in-flight bounds and under the
// adaptive one. Each reports probes finished per second, ticks skipped
// per second and the 99th percentile of schedule lateness (the upper
// bound of its bucket). The probes are tcpSocket to closed loopback ports
// (refused at once): all the CPU is the exporter's own.
func BenchmarkOverload(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("needs taskset (util-linux) to pin the exporter to one core")
	}
	capacity := 0.0
	b.Run("capacity", func(b *testing.B) {
		r := runOverload(b, 40_000, 16, false)
		capacity = r.finished
		r.report(b)
		// The floor: the same connects from a plain loop on the same core.
		raw := rawCapacity(b, "refused", 40_000, 16, 9)
		b.ReportMetric(raw, "raw-probes/s")
		b.ReportMetric(capacity/raw, "x-raw-capacity")
	})
	if capacity == 0 {
		b.Fatal("no capacity measured")
	}
	n := int(math.Round(1.2 * capacity))
	configs := []struct {
		bound    int
		adaptive bool
	}{{16, false}, {64, false}, {256, false}, {2000, false}, {2000, true}}
	// Repetitions interleaved, so that a noisy minute falls on every
	// configuration alike; each reports its median.
	const reps = 3
	results := make([][]overloadResult, len(configs))
	for rep := 0; rep < reps; rep++ {
		for i, c := range configs {
			results[i] = append(results[i], runOverload(b, n, c.bound, c.adaptive))
		}
	}
	for i, c := range configs {
		name := fmt.Sprintf("targets=%d/bound=%d", n, c.bound)
		if c.adaptive {
			name += "/adaptive"
		}
		b.Run(name, func(b *testing.B) { median(results[i]).report(b) })
	}
}

// median takes each figure's median over the repetitions.
func median(rs []overloadResult) overloadResult {
	pick := func(f func(overloadResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return medianOf(v)
	}
	return overloadResult{
		finished: pick(func(r overloadResult) float64 { return r.finished }),
		skipped:  pick(func(r overloadResult) float64 { return r.skipped }),
		p99:      pick(func(r overloadResult) float64 { return r.p99 }),
		limit:    pick(func(r overloadResult) float64 { return r.limit }),
	}
}

type overloadResult struct{ finished, skipped, p99, limit float64 }

func (r overloadResult) report(b *testing.B) {
	b.ReportMetric(r.finished, "probes/s")
	b.ReportMetric(r.skipped, "skipped/s")
	b.ReportMetric(r.p99, "p99-lateness-s")
	b.ReportMetric(r.limit, "bound-at-end")
}

func runOverload(b testing.TB, n, bound int, adaptive bool) overloadResult {
	return saturate(b, loadTCPRefused, n, bound, adaptive)
}

// A load is a kind of probe for every target of a saturating run: its
// handler, and the port on the loopback addresses it reaches.
type load struct {
	handler string // the probe's handler, YAML, with %d for the port
	port    int
}

// loadTCPRefused: tcpSocket to a closed port, refused at once: all the
// CPU is the exporter's own.
var loadTCPRefused = load{handler: "tcpSocket: {port: %d}", port: 9}

// loadAddr is the i-th loopback address of a load.
func loadAddr(i int) string {
	return fmt.Sprintf("127.%d.%d.%d", 1+i>>16&255, i>>8&255, i&255)
}

// saturate runs the binary pinned to one core on n targets of ld at
// period 1 s, and measures what it finishes.
func saturate(b testing.TB, ld load, n, bound int, adaptive bool) overloadResult {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "targets:\n  - name: load\n    readinessProbe: {%s, periodSeconds: 1, timeoutSeconds: 1}\n    static:\n", fmt.Sprintf(ld.handler, ld.port))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&cfg, "      - {host: %s}\n", loadAddr(i))
	}
	path := filepath.Join(b.TempDir(), "load.yaml")
	writeConfig(b, path, cfg.String())
	b.Setenv("GOMAXPROCS", "1")
	mode := "--no-probe.adaptive-in-flight"
	if adaptive {
		mode = "--probe.adaptive-in-flight"
	}
	e := start(b, "--config.file="+path, "--log.level=info", "--probe.max-in-flight="+strconv.Itoa(bound), mode)
	pid := e.cmd.Process.Pid
	if out, err := exec.Command("taskset", "-a", "-p", "-c", "0", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		b.Fatalf("taskset: %v: %s", err, out)
	}
	// Whatever the exporter starts later inherits the affinity; the test
	// process (scrapes) keeps off its core.
	if out, err := exec.Command("taskset", "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		b.Logf("taskset on the test process: %v: %s", err, out)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if v := e.scrape(b)["probe_exporter_targets"].GetMetric(); len(v) == 1 && v[0].GetGauge().GetValue() == float64(n) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("targets not all scheduled in a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // past the first period's start-up jitter
	m0, t0 := e.scrape(b), time.Now()
	time.Sleep(15 * time.Second)
	m1, t1 := e.scrape(b), time.Now()
	// Gone before the next run starts, not when the benchmark ends.
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	<-e.done
	window := t1.Sub(t0).Seconds()
	sum := func(mfs map[string]*dto.MetricFamily, name string) float64 {
		var s float64
		for _, m := range mfs[name].GetMetric() {
			s += m.GetCounter().GetValue()
		}
		return s
	}
	r := overloadResult{
		finished: (sum(m1, "probe_exporter_probe_attempts_total") - sum(m0, "probe_exporter_probe_attempts_total")) / window,
		skipped:  (sum(m1, "probe_exporter_ticks_skipped_total") - sum(m0, "probe_exporter_ticks_skipped_total")) / window,
		p99:      math.Inf(1),
	}
	if g := m1["probe_exporter_probes_in_flight_limit"].GetMetric(); len(g) == 1 {
		r.limit = g[0].GetGauge().GetValue()
	}
	h0 := m0["probe_exporter_schedule_lateness_seconds"].GetMetric()[0].GetHistogram()
	h1 := m1["probe_exporter_schedule_lateness_seconds"].GetMetric()[0].GetHistogram()
	total := float64(h1.GetSampleCount() - h0.GetSampleCount())
	for i, bk := range h1.GetBucket() {
		if float64(bk.GetCumulativeCount()-h0.GetBucket()[i].GetCumulativeCount()) >= 0.99*total {
			r.p99 = bk.GetUpperBound()
			break
		}
	}
	return r
}
