package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleTargets runs the binary with 100k static targets probed
// every 300 s (tcpSocket to a closed loopback port: about as cheap as a
// probe gets, 333 a second), and every 60 s and measures, over a 20 s window once they are
// all scheduled, the process's CPU and RSS, and RSS again after three
// full scrapes. The probes' own cost is the attempts/s times
// BenchmarkTCP's CPU per probe.
func BenchmarkIdleTargets(b *testing.B) {
	// 300 s: idle. 60 s: five times the rate, to check the README's
	// sizing formula (CPU per probe) against a second point.
	for _, period := range []int{300, 60} {
		b.Run(fmt.Sprintf("period=%ds", period), func(b *testing.B) { benchmarkIdleTargets(b, period) })
	}
}

func benchmarkIdleTargets(b *testing.B, period int) {
	const n = 100_000
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "targets:\n  - name: idle\n    readinessProbe: {tcpSocket: {port: 9}, periodSeconds: %d, timeoutSeconds: 1}\n    static:\n", period)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&cfg, "      - {host: 127.%d.%d.%d}\n", 1+i>>16&255, i>>8&255, i&255)
	}
	path := filepath.Join(b.TempDir(), "idle.yaml")
	writeConfig(b, path, cfg.String())
	for i := 0; i < b.N; i++ {
		e := start(b, "--config.file="+path, "--log.level=info", "--web.enable-pprof")
		pid := e.cmd.Process.Pid
		attempts := func() float64 {
			var sum float64
			for _, m := range e.scrape(b)["probe_exporter_probe_attempts_total"].GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
		// Settle: every target scheduled and the first scrape's garbage gone.
		deadline := time.Now().Add(time.Minute)
		for {
			if v := e.scrape(b)["probe_exporter_targets"].GetMetric(); len(v) == 1 && v[0].GetGauge().GetValue() == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("targets not all scheduled in a minute")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(5 * time.Second)
		a0, cpu0, t0 := attempts(), procCPU(b, pid), time.Now()
		rssIdle := procRSS(b, pid)
		time.Sleep(20 * time.Second)
		cpu1, t1 := procCPU(b, pid), time.Now()
		a1 := attempts()
		// Three scrapes one after the other, each read to its end as
		// Prometheus reads it. (Closing the body unread left the server
		// writing into a closing connection, with each scrape's snapshot
		// alive at once, while RSS was read.)
		for j := 0; j < 3; j++ {
			res, err := http.Get(e.url + "/metrics")
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
		rssAfter := procRSS(b, pid)
		saveHeap(b, e, fmt.Sprintf("idle-%ds", period))
		window := t1.Sub(t0).Seconds()
		b.ReportMetric(100*(cpu1-cpu0)/window, "%core")
		b.ReportMetric(1e3*(cpu1-cpu0)/(a1-a0), "cpu-ms/probe")
		b.ReportMetric((a1-a0)/window, "probes/s")
		b.ReportMetric(rssIdle/(1<<20), "rss-idle-MiB")
		b.ReportMetric(rssAfter/(1<<20), "rss-after-scrapes-MiB")
	}
}

// procCPU is a process's user and system CPU seconds (/proc/PID/stat).
func procCPU(t testing.TB, pid int) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in parens.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// procRSS is a process's resident set in bytes (/proc/PID/status).
func procRSS(t testing.TB, pid int) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// saveHeap writes the exporter's heap profile (after a GC) to
// $PROBE_EXPORTER_BENCH_PROFILES/<name>.heap, when that is set: what the
// live heap is made of, for `go tool pprof`.
func saveHeap(b *testing.B, e *exporter, name string) {
	dir := os.Getenv("PROBE_EXPORTER_BENCH_PROFILES")
	if dir == "" {
		return
	}
	res, err := http.Get(e.url + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".heap"), data, 0o644); err != nil {
		b.Fatal(err)
	}
}
