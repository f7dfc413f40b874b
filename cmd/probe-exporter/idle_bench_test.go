package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleTargets runs the binary with 100k static targets probed
// every 300 s (tcpSocket to a closed loopback port: about as cheap as a
// probe gets, 333 a second), and every 60 s and measures, over a 90 s
// window once they are all scheduled, the process's CPU and RSS, and
// RSS again after three full scrapes. The probes' own cost is measured beside it, over the same
// window: a raw loop (pacedLoop) dialing the same 100k addresses at the
// same rate, each at its turn. %core-beyond-raw is the difference — what
// keeping 100k probes costs beyond making their connections. 90 s,
// because a 20 s window read 1.6 % and 3.2 % beyond the raw loop in two
// runs in a row (likely whether a collection of the ≈90 MB heap, which
// comes every minute or so, fell in it); two 90 s runs read 2.7 % and
// 1.5 %.
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
	fmt.Fprintf(&cfg, "targets:\n  - name: idle\n    readinessProbe: {tcpSocket: {port: %d}, periodSeconds: %d, timeoutSeconds: 1}\n    static:\n", idlePort, period)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&cfg, "      - {host: %s}\n", loadAddr(i))
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
		raw := startPaced(b, n, period)
		time.Sleep(5 * time.Second)
		// The attempts are counted over the window's scrapes, which take
		// a second or so each at 100k: rated by when each answered.
		a0, ta0 := attempts(), time.Now()
		cpu0, raw0, t0 := procCPU(b, pid), procCPU(b, raw), time.Now()
		rssIdle := procRSS(b, pid)
		time.Sleep(90 * time.Second)
		cpu1, raw1, t1 := procCPU(b, pid), procCPU(b, raw), time.Now()
		a1, ta1 := attempts(), time.Now()
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
		b.ReportMetric(100*(raw1-raw0)/window, "raw-%core")
		b.ReportMetric(100*(cpu1-cpu0-(raw1-raw0))/window, "%core-beyond-raw")
		rate := (a1 - a0) / ta1.Sub(ta0).Seconds()
		b.ReportMetric(1e3*(cpu1-cpu0)/window/rate, "cpu-ms/probe")
		b.ReportMetric(rate, "probes/s")
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

// idlePort is the idle targets' port (at loadAddr(i)): nothing listens.
const idlePort = 9

// envPaced makes the test binary the paced raw loop: "n,period".
const envPaced = "PROBE_EXPORTER_RAW_PACED"

// startPaced runs pacedLoop in a process of its own (the exporter's
// GOMAXPROCS and core: neither is pinned here) and returns its pid; the
// process ends with the benchmark.
func startPaced(b *testing.B, n, period int) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", envPaced, n, period))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// pacedLoop dials each of the idle targets once a period, in turn, each
// at its own instant (period/n apart), and closes: the probes' own work
// at the idle benchmark's rate, with nothing kept per target but its
// address. Like the exporter's timing loop it wakes at most once per
// 10 ms and dials what has come due (at 333 a second, a wake-up per dial
// would cost more than the dials). It runs until killed.
func pacedLoop(spec string) int {
	var n, period int
	if _, err := fmt.Sscanf(spec, "%d,%d", &n, &period); err != nil || n <= 0 || period <= 0 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		return 2
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = net.JoinHostPort(loadAddr(i), strconv.Itoa(idlePort))
	}
	step := time.Duration(period) * time.Second / time.Duration(n)
	start := time.Now()
	for i := 0; ; {
		due := int(time.Since(start) / step)
		for ; i <= due; i++ {
			c, err := net.Dial("tcp", addrs[i%n])
			if err == nil {
				c.Close()
			}
		}
		time.Sleep(max(time.Until(start.Add(time.Duration(i)*step)), 10*time.Millisecond))
	}
}
