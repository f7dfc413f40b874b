package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
)

// faultScenario is one hostile target and what the exporter must make
// of it.
type faultScenario struct {
	name string
	// probe is the probe's YAML (a flow mapping); host and port are the
	// scenario's target.
	probe      string
	host, port string
	success    bool
	// holds: the fault holds the attempt until its timeout (so the
	// duration shows the bound was enforced, not that the fault was mild).
	holds bool
	// anyResult: the result depends on the machine's speed (100 MB through
	// a pipe within the timeout, under the race detector on two cores);
	// only the bound is asserted.
	anyResult bool
	// reason is the class probe_failure_reason must give a failing
	// scenario (faultReasons; "a|b": either).
	reason string
}

// faultReasons is the class each failing scenario's attempts end in.
var faultReasons = map[string]string{
	"slowloris_headers": "timeout",
	// The 10 MiB head limit, or the timeout where the race detector's
	// binary reads 10 MiB slower than that.
	"endless_header_lines":   "http_malformed|timeout",
	"endless_header_line":    "http_malformed|timeout",
	"endless_early_hints":    "http_malformed|timeout",
	"slow_body":              "timeout",
	"garbage":                "http_malformed",
	"tls_stall":              "timeout",
	"tls_garbage":            "tls_handshake",
	"https_to_http":          "tls_handshake",
	"http_to_https":          "http_status", // Go's TLS server answers 400
	"redirect_loop":          "http_redirect_limit",
	"redirect_10_hops":       "http_redirect_limit",
	"redirect_11_hops":       "http_redirect_limit",
	"redirect_bad_scheme":    "other",
	"full_backlog_http":      "connection_timeout",
	"full_backlog_tcp":       "connection_timeout",
	"syn_black_hole_tcp":     "connection_timeout",
	"syn_black_hole_https":   "connection_timeout",
	"dns_never_answers_tcp":  "dns_timeout",
	"dns_never_answers_http": "dns_timeout",
	"grpc_accept_and_hang":   "grpc_unavailable",
	"grpc_to_http1":          "grpc_unavailable",
	"grpc_refused":           "connection_refused",
	"grpc_not_serving":       "grpc_not_serving",
	"grpc_serving_flips":     "grpc_not_serving",
	"exec_ignores_term":      "exec_timeout",
	"exec_fork_storm":        "exec_timeout",
	"exec_closes_stdout":     "exec_timeout",
}

// faultTimeout is every scenario's timeoutSeconds.
const faultTimeout = time.Second

// TestFaultSuite runs hostile targets against the real binary, all at once,
// and asserts for each its result and that its attempts end within their
// timeout plus 100 ms; then it removes them all and asserts that the
// exporter's goroutines and file descriptors are back where they were and
// that no probe process is left. The durations are the exporter's own
// probe_duration_seconds.
func TestFaultSuite(t *testing.T) {
	kubetest.RequireNetns(t) // the SYN black hole and DNS on :53 change the namespace
	hostPort := func(addr string) (string, string) {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		return h, p
	}
	var scenarios []faultScenario
	add := func(name, probe, addr string, success, holds bool) {
		h, p := hostPort(addr)
		reason, ok := faultReasons[name]
		if !success && !ok {
			t.Fatalf("%s: no reason class in faultReasons", name)
		}
		scenarios = append(scenarios, faultScenario{name: name, probe: probe, host: h, port: p, success: success, holds: holds, reason: reason})
	}
	httpGet := func(path string) string { return fmt.Sprintf("httpGet: {path: %q}", path) }
	https := func(path string) string { return fmt.Sprintf("httpGet: {path: %q, scheme: HTTPS}", path) }
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

	// httpGet
	add("slowloris_headers", httpGet("/"), faults.SlowHeaders(t), false, true)
	add("endless_header_lines", httpGet("/"), faults.EndlessHeaders(t, false), false, false)
	add("endless_header_line", httpGet("/"), faults.EndlessHeaders(t, true), false, false)
	add("headers_1mb", httpGet("/"), faults.BigHeaders(t, 1<<20), true, false)
	add("endless_early_hints", httpGet("/"), faults.EndlessEarlyHints(t), false, false)
	add("slow_body", httpGet("/"), faults.SlowBody(t), false, true)
	add("endless_body", httpGet("/"), faults.EndlessBody(t), true, false)
	add("garbage", httpGet("/"), faults.Garbage(t), false, false)
	add("tls_stall", https("/"), faults.Stall(t), false, true)
	add("tls_garbage", https("/"), faults.TLSGarbage(t), false, false)
	add("https_to_http", https("/"), faults.Reply(t, ok), false, false)
	add("http_to_https", httpGet("/"), faults.HTTPS(t), false, false)
	redirects := faults.Redirects(t)
	add("redirect_loop", httpGet("/loop"), redirects, false, false)
	add("redirect_9_hops", httpGet("/hop/9"), redirects, true, false)
	add("redirect_10_hops", httpGet("/hop/10"), redirects, false, false)
	add("redirect_11_hops", httpGet("/hop/11"), redirects, false, false)
	add("redirect_other_host", httpGet("/away"), redirects, true, false)
	add("redirect_bad_scheme", httpGet("/ftp"), redirects, false, false)
	backlog := faults.FullBacklog(t)
	add("full_backlog_http", httpGet("/"), backlog, false, true)
	// tcpSocket
	add("full_backlog_tcp", "tcpSocket: {}", backlog, false, true)
	if hole, err := faults.Blackhole(t); err != nil {
		t.Logf("no SYN black hole: %v", err)
	} else {
		add("syn_black_hole_tcp", "tcpSocket: {}", net.JoinHostPort(hole, "80"), false, true)
		add("syn_black_hole_https", https("/"), net.JoinHostPort(hole, "443"), false, true)
	}
	// DNS that never answers: the namespace's resolver is 127.0.0.1.
	if err := faults.DNSBlackhole(t); err != nil {
		t.Logf("no DNS black hole: %v", err)
	} else {
		// Two names: Go's resolver shares a lookup between concurrent
		// callers, and the shared one ends at the first caller's deadline.
		add("dns_never_answers_tcp", "tcpSocket: {}", "never-answers-1.example:80", false, true)
		add("dns_never_answers_http", httpGet("/"), "never-answers-2.example:80", false, true)
	}
	// grpc
	stall := faults.Stall(t)
	_, stallPort := hostPort(stall)
	add("grpc_accept_and_hang", fmt.Sprintf("grpc: {port: %s}", stallPort), stall, false, true)
	plain := faults.Reply(t, ok)
	_, plainPort := hostPort(plain)
	add("grpc_to_http1", fmt.Sprintf("grpc: {port: %s}", plainPort), plain, false, false)
	add("grpc_refused", "grpc: {port: 1}", "127.0.0.1:1", false, false)
	notServing, _ := faults.GRPCHealth(t, false)
	_, nsPort := hostPort(notServing)
	add("grpc_not_serving", fmt.Sprintf("grpc: {port: %s}", nsPort), notServing, false, false)
	flapping, setFlapping := faults.GRPCHealth(t, true)
	_, flPort := hostPort(flapping)
	add("grpc_serving_flips", fmt.Sprintf("grpc: {port: %s}", flPort), flapping, false, false)
	// exec (a shell on the host; $$ is an escaped $ in $(VAR) expansion)
	sh := func(script string) string {
		return fmt.Sprintf("exec: {command: [/bin/sh, -c, %q]}", strings.ReplaceAll(script, "$", "$$"))
	}
	add("exec_ignores_term", sh(`trap "" TERM; (trap "" TERM; sleep 30) & sleep 30`), "127.0.0.1:1", false, true)
	add("exec_daemonizes", sh(`setsid sleep 30 </dev/null >/dev/null 2>&1 & echo started`), "127.0.0.1:1", true, false)
	add("exec_100mb_output", sh(`head -c 100000000 /dev/zero`), "127.0.0.1:1", true, false)
	scenarios[len(scenarios)-1].anyResult = true
	add("exec_fork_storm", sh(`for i in $(seq 200); do sleep 30 & done; wait`), "127.0.0.1:1", false, true)
	add("exec_closes_stdout", sh(`exec >&- 2>&-; sleep 30`), "127.0.0.1:1", false, true)

	kernelKillCost := killCost(t)
	t.Logf("an exec attempt of the fork storm alone ends %v past its timeout here", kernelKillCost)
	marker := fmt.Sprintf("probe-exporter-faults-%d", os.Getpid())
	t.Setenv("FAULT_SUITE_MARKER", marker)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, "targets: []\n")
	e := start(t, "--config.file="+cfg, "--log.level=debug", "--probe.exec.env=FAULT_SUITE_MARKER")
	t.Cleanup(func() {
		for _, p := range processesWith(marker, e.cmd.Process.Pid) {
			var pid int
			fmt.Sscanf(p, "%d", &pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	baseline := e.scrape(t)
	baseGoroutines, _ := value(baseline, "go_goroutines", nil)
	baseFDs, _ := value(baseline, "process_open_fds", nil)

	var b strings.Builder
	b.WriteString("targets:\n")
	for _, s := range scenarios {
		fmt.Fprintf(&b, "  - name: %s\n    static: [{host: %q, port: %s}]\n    readinessProbe: {%s, timeoutSeconds: %d, periodSeconds: 2, failureThreshold: 1}\n",
			s.name, s.host, s.port, s.probe, int(faultTimeout/time.Second))
	}
	writeConfig(t, cfg, b.String())
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// SERVING, then NOT_SERVING: the state follows.
	e.eventually(t, "the flipping gRPC service to be seen serving", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_state", map[string]string{"target": "grpc_serving_flips"})
		return v == 1
	}, nil)
	setFlapping(false)

	// The bound: timeout + 100 ms, plus what this machine's kernel takes
	// to end the fork storm's 200 processes (every scenario runs beside
	// it); the race detector's binary gets more room for its own slowness
	// (this asserts that nothing runs on past its timeout, which would
	// take seconds, not a speed figure).
	bound := faultTimeout + 100*time.Millisecond + kernelKillCost
	if raceEnabled {
		bound = faultTimeout + 400*time.Millisecond + kernelKillCost
	}
	results := func(mfs map[string]*dto.MetricFamily, name string) float64 {
		n := 0.0
		for _, m := range matching(mfs, "probe_results_total", map[string]string{"target": name}) {
			n += m.GetCounter().GetValue()
		}
		return n
	}
	var last map[string]*dto.MetricFamily
	e.eventually(t, "every scenario to have 2 results", func(mfs map[string]*dto.MetricFamily) bool {
		last = mfs
		for _, s := range scenarios {
			if results(mfs, s.name) < 2 {
				return false
			}
		}
		return true
	}, func(mfs map[string]*dto.MetricFamily) {
		// On every scrape: no attempt ran past its bound.
		for _, s := range scenarios {
			if d, ok := value(mfs, "probe_duration_seconds", map[string]string{"target": s.name}); ok && d > bound.Seconds() {
				t.Errorf("%s: an attempt took %.3f s, bound %v", s.name, d, bound)
			}
		}
	})
	var table []string
	for _, s := range scenarios {
		succ, _ := value(last, "probe_success", map[string]string{"target": s.name})
		d, _ := value(last, "probe_duration_seconds", map[string]string{"target": s.name})
		if !s.anyResult && (succ == 1) != s.success {
			t.Errorf("%s: probe_success %v, want %v", s.name, succ, s.success)
		}
		if s.holds && d < (faultTimeout-100*time.Millisecond).Seconds() {
			t.Errorf("%s: the attempt took %.3f s; the fault should have held it to its %v timeout", s.name, d, faultTimeout)
		}
		var reasons []string
		for _, m := range matching(last, "probe_failure_reason", map[string]string{"target": s.name}) {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					reasons = append(reasons, l.GetValue())
				}
			}
		}
		if got := strings.Join(reasons, ","); !s.anyResult && !slices.Contains(strings.Split(s.reason, "|"), got) {
			t.Errorf("%s: probe_failure_reason %q, want %q", s.name, reasons, s.reason)
		}
		table = append(table, fmt.Sprintf("%-24s success=%v duration=%.3fs reason=%s", s.name, succ, d, strings.Join(reasons, ",")))
		if s.holds && d < (faultTimeout-100*time.Millisecond).Seconds() {
			t.Logf("%s log:\n%s", s.name, grepLines(e.log(), "target="+s.name))
		}
	}
	sort.Strings(table)
	t.Logf("scenarios (timeout %v):\n%s", faultTimeout, strings.Join(table, "\n"))

	// Everything removed: back to the baseline, nothing left running.
	writeConfig(t, cfg, "targets: []\n")
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var goroutines, fds float64
	e.eventually(t, "goroutines and file descriptors back to the baseline", func(mfs map[string]*dto.MetricFamily) bool {
		goroutines, _ = value(mfs, "go_goroutines", nil)
		fds, _ = value(mfs, "process_open_fds", nil)
		return goroutines <= baseGoroutines+5 && fds <= baseFDs+2
	}, nil)
	t.Logf("goroutines %v (baseline %v), open fds %v (baseline %v)", goroutines, baseGoroutines, fds, baseFDs)
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWith(marker, e.cmd.Process.Pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := processesWith(marker, e.cmd.Process.Pid); len(left) > 0 {
		t.Errorf("%d probe processes outlived their targets, e.g. %s", len(left), left[0])
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestListenerFaults: what a client can do to the exporter's own
// listener costs that client only. Half-sent requests (slowloris) and
// huge request headers don't keep a scrape from being served, and a
// 200-reload storm with invalid configurations mixed in keeps every
// unchanged probe's state and never shows a duplicate series.
func TestListenerFaults(t *testing.T) {
	srv := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	host, port, _ := net.SplitHostPort(srv)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	good := fmt.Sprintf("targets:\n  - name: web\n    static: [{host: %s, port: %s}]\n    readinessProbe: {httpGet: {path: /}, periodSeconds: 1}\n", host, port)
	writeConfig(t, cfg, good)
	e := start(t, "--config.file="+cfg, "--web.enable-lifecycle", "--log.level=info")
	addr := strings.TrimPrefix(e.url, "http://")
	results := func(mfs map[string]*dto.MetricFamily) float64 {
		v, _ := value(mfs, "probe_results_total", map[string]string{"target": "web", "result": "success"})
		return v
	}
	e.eventually(t, "the target probed", func(mfs map[string]*dto.MetricFamily) bool { return results(mfs) >= 1 }, nil)

	t.Run("slowloris and huge headers", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
				t.Fatal(err)
			}
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		huge := "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Huge: " + strings.Repeat("h", 2<<20) + "\r\n\r\n"
		go func() { _, _ = c.Write([]byte(huge)) }()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		status := make([]byte, 12)
		if _, err := io.ReadFull(c, status); err != nil || string(status) != "HTTP/1.1 431" {
			t.Errorf("2 MiB of request headers: %q %v, want 431", status, err)
		}
		// Beside 100 half-sent requests, a scrape is served.
		if mfs := e.scrape(t); results(mfs) < 1 {
			t.Error("a scrape beside 100 half-sent requests lacks the target")
		}
	})

	t.Run("reload storm", func(t *testing.T) {
		before := e.scrape(t)
		transitions, _ := value(before, "probe_state_transitions_total", map[string]string{"target": "web"})
		last := results(before)
		for i := 0; i < 200; i++ {
			text := good
			if i%3 == 2 {
				text += "    bogus: 1\n" // invalid: kept the old one
			}
			writeConfig(t, cfg, text)
			res, err := client.Post(e.url+"/-/reload", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if want := map[bool]int{true: 400, false: 200}[i%3 == 2]; res.StatusCode != want && !(want == 400 && res.StatusCode >= 400) {
				t.Fatalf("reload %d: status %d", i, res.StatusCode)
			}
			if i%10 == 0 {
				mfs := e.scrape(t) // checks for duplicates
				if r := results(mfs); r < last {
					t.Fatalf("reload %d: the unchanged target's results went back from %v to %v", i, last, r)
				} else {
					last = r
				}
			}
		}
		mfs := e.scrape(t)
		if v, _ := value(mfs, "probe_state_transitions_total", map[string]string{"target": "web"}); v != transitions {
			t.Errorf("the storm changed the unchanged target's state: transitions %v -> %v", transitions, v)
		}
		if v, _ := value(mfs, "probe_exporter_config_last_reload_successful", nil); v != 1 {
			t.Errorf("the last reload was good, probe_exporter_config_last_reload_successful = %v", v)
		}
	})
}

// TestUnresolvableName: a name that does not resolve fails the attempt at
// once (the namespace's resolver, 127.0.0.1, refuses), with the lookup's
// reason; it doesn't wait for the timeout.
func TestUnresolvableName(t *testing.T) {
	kubetest.RequireNetns(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, "targets:\n  - name: nowhere\n    static: [{host: does-not-resolve.example, port: 80}]\n    readinessProbe: {tcpSocket: {}, timeoutSeconds: 5, periodSeconds: 1}\n")
	e := start(t, "--config.file="+cfg)
	e.eventually(t, "two attempts", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_results_total", map[string]string{"target": "nowhere", "result": "failure"})
		return v >= 2
	}, nil)
	mfs := e.scrape(t)
	if d, _ := value(mfs, "probe_duration_seconds", map[string]string{"target": "nowhere"}); d > 1 {
		t.Errorf("an unresolvable name took %.3f s of its 5 s timeout", d)
	}
	e.waitLog(t, "lookup does-not-resolve.example")
}

// killCost is how far past its timeout an exec attempt of the fork storm
// ends on this machine with nothing else running: the time its kernel
// takes to end a group of 200 processes after one SIGKILL, which no
// prober can shorten — a few ms on a plain Linux kernel, 60–80 ms in a
// sandboxed one. The longest of three.
func killCost(t *testing.T) time.Duration {
	t.Helper()
	p, err := prober.NewEnv(prober.EnvOptions{}).New(&probe.Probe{TimeoutSeconds: 1,
		Exec: &probe.ExecAction{Command: []string{"/bin/sh", "-c", `for i in $(seq 200); do sleep 30 & done; wait`}}})
	if err != nil {
		t.Fatal(err)
	}
	var most time.Duration
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		if o := p.Probe(ctx, &prober.Target{Host: "127.0.0.1"}); o.Reason != prober.ExecTimeout {
			t.Fatalf("the fork storm alone: %v %v %q", o.Result, o.Reason, o.Output)
		}
		most = max(most, time.Since(start)-time.Second)
		cancel()
	}
	return most
}
