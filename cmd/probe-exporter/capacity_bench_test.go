package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/loadserver"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// BenchmarkCapacity: how many probes the binary finishes per second of
// CPU when it is saturated, next to a raw loop doing the same exchanges —
// for httpGet (dial, GET, read to EOF, close) and tcpSocket (dial, close)
// against a loopback server on the other core. Both run 16 at a time
// (the exporter with a fixed in-flight bound of 16), over the same
// addresses, at the same time on the same core: the kernel shares the
// core between them, and each one's rate over the CPU it got is its
// capacity per core. x-raw-capacity is the exporter's over the raw
// loop's (the median of three runs): 1.0 would be no cost beyond the
// exchanges themselves.
//
// Side by side, because this machine's speed drifts by ±10 % and more
// over minutes, for both alike: run one after the other, the raw loop
// read 12.4k httpGet exchanges a second in one pair and 18.8k in
// another, and a pair's ratio read 0.80 to 1.25 in one benchmark
// (docs/performance.md).
//
// Saturated: a first run with far more targets (period 1 s) than the
// exporter can probe finds its rate (reported as overloaded-probes/s),
// and the measured runs offer 1.3 times that. Far beyond saturation
// every tick that can't run is taken from the timing heap, queued and
// skipped (skipped-share), work the raw loop has no counterpart for; but
// offered only 1.15 times, a run could keep up and read the rate offered.
//
// Every run starts without the TIME-WAIT sockets of the one before
// (forgetTimeWait): the exporter closes first, as net/http does, and
// leaves them on its side, the raw loop reads to EOF and leaves them on
// the server's.
func BenchmarkCapacity(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("needs taskset (util-linux) to pin the exporter to one core")
	}
	// The server listens on every address of a namespace that has only
	// a loopback interface.
	kubetest.RequireNetns(b)
	for _, c := range []struct {
		mode    string
		handler string
		targets int // far more than half a core can probe at period 1 s
	}{
		{"http", "httpGet: {path: /, port: %d}", 15_000},
		{"tcp", "tcpSocket: {port: %d}", 25_000},
	} {
		port := startLoadServer(b, c.mode)
		ld := load{handler: c.handler, port: port}
		overloaded := shareCore(b, ld, c.mode, c.targets, port)
		n := max(1_000, int(math.Round(1.3*overloaded.ours.finished)))
		const reps = 3
		var ours, raw, ratios, skipped []float64
		for rep := 0; rep < reps; rep++ {
			s := shareCore(b, ld, c.mode, n, port)
			o, r := s.ours.finished/s.ours.cpu, s.raw.rate/s.raw.cpu
			b.Logf("%s, %d targets: %.0f probes/s on %.2f of the core (%.1f %% of ticks skipped), raw loop %.0f/s on %.2f: %.0f and %.0f per CPU second, %.3f",
				c.mode, n, s.ours.finished, s.ours.cpu, 100*s.ours.skipped/(s.ours.skipped+s.ours.finished), s.raw.rate, s.raw.cpu, o, r, o/r)
			ours, raw, ratios = append(ours, o), append(raw, r), append(ratios, o/r)
			skipped = append(skipped, s.ours.skipped/(s.ours.skipped+s.ours.finished))
		}
		b.Run(fmt.Sprintf("%s/targets=%d", c.mode, n), func(b *testing.B) {
			b.ReportMetric(medianOf(ours), "probes/cpu-s")
			b.ReportMetric(medianOf(raw), "raw-probes/cpu-s")
			b.ReportMetric(medianOf(ratios), "x-raw-capacity")
			b.ReportMetric(slices.Min(ratios), "x-raw-min")
			b.ReportMetric(slices.Max(ratios), "x-raw-max")
			b.ReportMetric(medianOf(skipped), "skipped-share")
			b.ReportMetric(overloaded.ours.finished/overloaded.ours.cpu, "overloaded-probes/cpu-s")
			b.ReportMetric(overloaded.ours.skipped/(overloaded.ours.skipped+overloaded.ours.finished), "overloaded-skipped-share")
		})
	}
}

// sharedRun is one run of the exporter and the raw loop on one core.
type sharedRun struct {
	ours overloadResult
	raw  rawResult
}

// shareCore runs the binary on n targets of ld and, beside it on the same
// core over the same window, the raw loop of mode to the same addresses.
func shareCore(b *testing.B, ld load, mode string, n, port int) sharedRun {
	e := startLoaded(b, ld, 0, n, 16, false)
	raw := startRawLoop(b, mode, n, 16, port, 15)
	time.Sleep(5 * time.Second) // the raw loop's warm-up, and past the exporter's start
	o := measure(b, 15*time.Second, e)[0]
	return sharedRun{ours: o, raw: raw()}
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// startLoadServer runs the test binary as a server on the second core,
// on every address of the namespace: "http" answers "ok", "tcp" accepts
// and closes. It returns the port.
func startLoadServer(b *testing.B, mode string) int {
	return loadserver.Start(b, mode, ":0", "taskset", "-c", "1")
}

// forgetTimeWait drops the namespace's TIME-WAIT sockets, those of the
// run before (ss -K: the kernel's sock_diag destroy), so each run pays for
// its own and starts from the same state.
func forgetTimeWait(b testing.TB) {
	var stderr strings.Builder
	cmd := exec.Command("ss", "-K", "-t", "state", "time-wait")
	cmd.Stderr = &stderr // stdout lists every socket
	if err := cmd.Run(); err != nil {
		b.Logf("ss -K: %v: %s (runs start with the TIME-WAIT sockets of the one before)", err, stderr.String())
	}
}

// envRawLoop makes the test binary the raw loop of rawCapacity.
const envRawLoop = "PROBE_EXPORTER_RAW_LOOP"

// rawCapacity runs, pinned to the exporter's core with GOMAXPROCS=1, a
// plain loop of the exchanges a load's probes make (mode http, tcp or
// refused) to the same n loopback addresses, from conc goroutines as the
// exporter's bound of conc in-flight probes, and returns exchanges per
// second.
func rawCapacity(b *testing.B, mode string, n, conc, port int) float64 {
	forgetTimeWait(b)
	return startRawLoop(b, mode, n, conc, port, 15)().rate
}

// rawResult: the raw loop's exchanges per second over its window, and the
// CPU it used (cores).
type rawResult struct{ rate, cpu float64 }

// startRawLoop starts the raw loop pinned to the first core with
// GOMAXPROCS=1; it measures over secs after a 5 s warm-up, and the
// function returned waits for its result.
func startRawLoop(b *testing.B, mode string, n, conc, port, secs int) func() rawResult {
	cmd := exec.Command("taskset", "-c", "0", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", fmt.Sprintf("%s=%s,%d,%d,%d,%d", envRawLoop, mode, n, conc, port, secs))
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("raw loop: %v", err)
	}
	return func() rawResult {
		var r rawResult
		if err := cmd.Wait(); err != nil {
			b.Fatalf("raw loop: %v", err)
		}
		if _, err := fmt.Sscan(out.String(), &r.rate, &r.cpu); err != nil {
			b.Fatalf("raw loop said %q", out.String())
		}
		return r
	}
}

// rawLoop is the raw loop's process: "mode,n,conc,port,seconds" in spec;
// over the seconds after a 5 s warm-up it prints exchanges per second and
// the CPU it used (cores).
func rawLoop(spec string) int {
	var mode string
	var n, conc, port, secs int
	f := strings.Split(spec, ",")
	if len(f) == 5 {
		mode = f[0]
		_, err := fmt.Sscanf(strings.Join(f[1:], " "), "%d %d %d %d", &n, &conc, &port, &secs)
		if err != nil {
			f = nil
		}
	}
	if len(f) != 5 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		return 2
	}
	addrs := make([]string, n)
	reqs := make([][]byte, n)
	for i := range addrs {
		addrs[i] = net.JoinHostPort(loadAddr(i), strconv.Itoa(port))
		reqs[i] = []byte("GET / HTTP/1.1\r\nHost: " + addrs[i] + "\r\nUser-Agent: raw\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	}
	var done atomic.Int64
	for g := 0; g < conc; g++ {
		go func() {
			buf := make([]byte, 4096)
			for i := g; ; i = (i + conc) % n {
				c, err := net.Dial("tcp", addrs[i])
				if err == nil {
					if mode == "http" {
						_, _ = c.Write(reqs[i])
						for {
							if _, err := c.Read(buf); err != nil {
								break
							}
						}
					}
					c.Close()
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(5 * time.Second)
	start, t0, cpu0 := done.Load(), time.Now(), cpuTime()
	time.Sleep(time.Duration(secs) * time.Second)
	wall := time.Since(t0).Seconds()
	fmt.Println(float64(done.Load()-start)/wall, (cpuTime()-cpu0).Seconds()/wall)
	return 0
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
