package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// BenchmarkAdaptiveSideBySide compares the adaptive bound with fixed ones
// drift-free. Run one after the other (BenchmarkOverload), configurations
// carry this machine's drift (±10 % over minutes) into their comparison.
// Here the adaptive bound and a fixed one share the core, each with half
// of 1.2 times the capacity BenchmarkOverload measures first, and the
// figure is probes finished per CPU second, adaptive over fixed (the
// median of three runs): what the machine does that minute it does to
// both. Each one's p99 schedule lateness is reported too.
func BenchmarkAdaptiveSideBySide(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("needs taskset (util-linux) to pin the exporter to one core")
	}
	n := int(math.Round(1.2 * runOverload(b, 40_000, 16, false).finished))
	const reps = 3
	for _, bound := range []int{16, 64} {
		var ratios []float64
		var ours, theirs []overloadResult
		for rep := 0; rep < reps; rep++ {
			forgetTimeWait(b)
			adaptive := startLoaded(b, loadTCPRefused, 0, n/2, 2000, true)
			fixed := startLoaded(b, loadTCPRefused, n/2, n/2, bound, false)
			time.Sleep(5 * time.Second)
			rs := measure(b, 15*time.Second, adaptive, fixed)
			a, f := rs[0].finished/rs[0].cpu, rs[1].finished/rs[1].cpu
			b.Logf("side by side, %d targets each: adaptive %.0f probes/s on %.2f of the core (bound %.0f, p99 lateness <= %gs), fixed %d %.0f/s on %.2f (p99 <= %gs): %.3f",
				n/2, rs[0].finished, rs[0].cpu, rs[0].limit, rs[0].p99, bound, rs[1].finished, rs[1].cpu, rs[1].p99, a/f)
			ratios = append(ratios, a/f)
			ours, theirs = append(ours, rs[0]), append(theirs, rs[1])
		}
		b.Run(fmt.Sprintf("side-by-side/targets=%d/adaptive-vs-bound=%d", n, bound), func(b *testing.B) {
			b.ReportMetric(medianOf(ratios), "x-fixed-per-cpu-s")
			b.ReportMetric(slices.Min(ratios), "x-fixed-min")
			b.ReportMetric(slices.Max(ratios), "x-fixed-max")
			b.ReportMetric(median(ours).p99, "p99-lateness-s")
			b.ReportMetric(median(theirs).p99, "fixed-p99-lateness-s")
			b.ReportMetric(median(ours).limit, "bound-at-end")
		})
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

// overloadResult: probes finished and ticks skipped per second, the CPU
// used (cores), p99 schedule lateness and the in-flight bound at the end.
type overloadResult struct{ finished, skipped, cpu, p99, limit float64 }

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
	e := startLoaded(b, ld, 0, n, bound, adaptive)
	time.Sleep(5 * time.Second) // past the first period's start-up jitter
	return measure(b, 15*time.Second, e)[0]
}

// startLoaded starts the binary pinned to the first core with n targets
// of ld at period 1 s, from the first-th load address on, and returns
// once all are scheduled.
func startLoaded(b testing.TB, ld load, first, n, bound int, adaptive bool) *exporter {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "targets:\n  - name: load\n    readinessProbe: {%s, periodSeconds: 1, timeoutSeconds: 1}\n    static:\n", fmt.Sprintf(ld.handler, ld.port))
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&cfg, "      - {host: %s}\n", loadAddr(i))
	}
	path := filepath.Join(b.TempDir(), "load.yaml")
	writeConfig(b, path, cfg.String())
	b.Setenv("GOMAXPROCS", "1")
	forgetTimeWait(b)
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
			return e
		}
		if time.Now().After(deadline) {
			b.Fatal("targets not all scheduled in a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// measure reads what each exporter finishes over the same window, then
// stops them.
func measure(b testing.TB, window time.Duration, es ...*exporter) []overloadResult {
	m0 := make([]map[string]*dto.MetricFamily, len(es))
	for i, e := range es {
		m0[i] = e.scrape(b)
	}
	t0 := time.Now()
	time.Sleep(window)
	var rs []overloadResult
	for i, e := range es {
		m1 := e.scrape(b)
		rs = append(rs, overloadBetween(m0[i], m1, time.Since(t0).Seconds()))
	}
	// Gone before the next run starts, not when the benchmark ends.
	for _, e := range es {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		<-e.done
	}
	return rs
}

// overloadBetween: what two scrapes secs apart say.
func overloadBetween(m0, m1 map[string]*dto.MetricFamily, secs float64) overloadResult {
	sum := func(mfs map[string]*dto.MetricFamily, name string) float64 {
		var s float64
		for _, m := range mfs[name].GetMetric() {
			s += m.GetCounter().GetValue()
		}
		return s
	}
	delta := func(name string) float64 { return (sum(m1, name) - sum(m0, name)) / secs }
	r := overloadResult{
		finished: delta("probe_exporter_probe_attempts_total"),
		skipped:  delta("probe_exporter_ticks_skipped_total"),
		cpu:      delta("process_cpu_seconds_total"),
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
