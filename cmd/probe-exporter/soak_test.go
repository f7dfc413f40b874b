package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestSoak (make soak; skipped unless PROBE_EXPORTER_SOAK names a
// duration): 2,000 targets at period 1 s, half healthy and half hostile,
// for that long, sampling the exporter's goroutines, file descriptors and
// resident memory; then every target is removed and goroutines and file
// descriptors must be back at their baseline.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("PROBE_EXPORTER_SOAK"))
	if err != nil {
		t.Skip("a soak run: set PROBE_EXPORTER_SOAK to how long (make soak runs 10m)")
	}
	kubetest.RequireNetns(t)
	faults.AnyLoopback(t) // one server answers many distinct targets
	healthy := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	kinds := []struct {
		name, probe, addr string
		n                 int
	}{
		{"healthy_http", "httpGet: {path: /}", healthy, 1000},
		{"slowloris", "httpGet: {path: /}", faults.SlowHeaders(t), 200},
		{"endless_headers", "httpGet: {path: /}", faults.EndlessHeaders(t, false), 200},
		{"tls_stall", "httpGet: {path: /, scheme: HTTPS}", faults.Stall(t), 200},
		{"full_backlog", "tcpSocket: {}", faults.FullBacklog(t), 200},
		{"endless_body", "httpGet: {path: /}", faults.EndlessBody(t), 100},
		{"exec_timeout", `exec: {command: [/bin/sh, -c, "trap '' TERM; sleep 5"]}`, "127.0.0.1:1", 100},
	}
	var b strings.Builder
	b.WriteString("targets:\n")
	total := 0
	for _, k := range kinds {
		host, port, _ := net.SplitHostPort(k.addr)
		fmt.Fprintf(&b, "  - name: %s\n    static:\n", k.name)
		for i := 0; i < k.n; i++ {
			// Distinct hosts for one server: 127.0.0.0/8 all answer.
			h := host
			if h == "127.0.0.1" {
				h = fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
			}
			fmt.Fprintf(&b, "      - {host: %q, port: %s}\n", h, port)
		}
		fmt.Fprintf(&b, "    readinessProbe: {%s, timeoutSeconds: 1, periodSeconds: 1, failureThreshold: 1}\n", k.probe)
		total += k.n
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, "targets: []\n")
	e := start(t, "--config.file="+cfg, "--log.level=info")
	sample := func() (goroutines, fds, rssMB float64) {
		mfs := e.scrape(t)
		goroutines, _ = value(mfs, "go_goroutines", nil)
		fds, _ = value(mfs, "process_open_fds", nil)
		rss, _ := value(mfs, "process_resident_memory_bytes", nil)
		return goroutines, fds, rss / (1 << 20)
	}
	g0, f0, r0 := sample()
	t.Logf("baseline: %v goroutines, %v fds, %.0f MB RSS", g0, f0, r0)
	writeConfig(t, cfg, b.String())
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var maxG, maxF, maxR float64
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		time.Sleep(10 * time.Second)
		g, f, r := sample()
		maxG, maxF, maxR = max(maxG, g), max(maxF, f), max(maxR, r)
		mfs := e.scrape(t)
		var late float64
		if h := matching(mfs, "probe_exporter_schedule_lateness_seconds", nil); len(h) > 0 {
			if c := h[0].GetHistogram().GetSampleCount(); c > 0 {
				late = h[0].GetHistogram().GetSampleSum() / float64(c)
			}
		}
		t.Logf("%4.0fs: %v goroutines, %v fds, %.0f MB RSS, mean lateness %.3fs", time.Until(end).Seconds(), g, f, r, late)
	}
	t.Logf("%d targets for %v: peaks %v goroutines, %v fds, %.0f MB RSS", total, d, maxG, maxF, maxR)
	writeConfig(t, cfg, "targets: []\n")
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "goroutines and fds back at the baseline", func(mfs map[string]*dto.MetricFamily) bool {
		g, _ := value(mfs, "go_goroutines", nil)
		f, _ := value(mfs, "process_open_fds", nil)
		return g <= g0+5 && f <= f0+2
	}, nil)
	g, f, r := sample()
	t.Logf("after removing them: %v goroutines, %v fds, %.0f MB RSS", g, f, r)
}
