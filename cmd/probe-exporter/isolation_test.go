package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestIsolationChecks: entries with expect: unreachable pass against the
// fault suite's SYN black hole and a refusing port, and fail — reason
// class "reached" — against a server that answers (an HTTP 500 too: any
// response reaches it) and a port that accepts; their series carry
// expect="unreachable"; an ordinary probe of the same server passes and
// carries no such label.
func TestIsolationChecks(t *testing.T) {
	kubetest.RequireNetns(t) // the SYN black hole changes the namespace
	hole, err := faults.Blackhole(t)
	if err != nil {
		t.Skipf("no SYN black hole: %v", err)
	}
	answers := faults.Reply(t, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
	ah, ap, _ := net.SplitHostPort(answers)
	type check struct {
		name, host, port, probe string
		pass                    bool
	}
	checks := []check{
		{"black_hole_tcp", hole, "80", "tcpSocket: {}", true},
		{"black_hole_http", hole, "80", "httpGet: {path: /}", true},
		{"refused_tcp", "127.0.0.1", "1", "tcpSocket: {}", true},
		{"refused_http", "127.0.0.1", "1", "httpGet: {path: /}", true},
		{"answers_http", ah, ap, "httpGet: {path: /}", false},
		{"accepts_tcp", ah, ap, "tcpSocket: {}", false},
	}
	var b strings.Builder
	b.WriteString("targets:\n")
	for _, c := range checks {
		fmt.Fprintf(&b, "  - name: %s\n    expect: unreachable\n    static: [{host: %q, port: %s}]\n    readinessProbe: {%s, timeoutSeconds: 1, periodSeconds: 1, failureThreshold: 2}\n", c.name, c.host, c.port, c.probe)
	}
	// The same server, expected reachable: no expect label, passes.
	fmt.Fprintf(&b, "  - name: reachable\n    static: [{host: %q, port: %s}]\n    readinessProbe: {tcpSocket: {}, periodSeconds: 1}\n", ah, ap)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, b.String())
	e := start(t, "--config.file="+cfg)

	e.eventually(t, "every check to reach its thresholded state", func(mfs map[string]*dto.MetricFamily) bool {
		for _, c := range checks {
			want := map[bool]float64{true: 1, false: 0}[c.pass]
			if v, ok := value(mfs, "probe_state", map[string]string{"target": c.name, "expect": "unreachable"}); !ok || v != want {
				return false
			}
			// A readiness state starts at failure: wait for two attempts.
			if n, _ := value(mfs, "probe_results_total", map[string]string{"target": c.name, "result": map[bool]string{true: "success", false: "failure"}[c.pass]}); n < 2 {
				return false
			}
		}
		v, ok := value(mfs, "probe_state", map[string]string{"target": "reachable"})
		return ok && v == 1
	}, nil)
	mfs := e.scrape(t)
	for _, c := range checks {
		reasons := matching(mfs, "probe_failure_reason", map[string]string{"target": c.name})
		switch {
		case c.pass && len(reasons) != 0:
			t.Errorf("%s: unreachable as expected, but probe_failure_reason says %v", c.name, reasons[0].GetLabel())
		case !c.pass && len(matching(mfs, "probe_failure_reason", map[string]string{"target": c.name, "reason": "reached", "expect": "unreachable"})) != 1:
			t.Errorf("%s: reached, want probe_failure_reason{reason=\"reached\",expect=\"unreachable\"}", c.name)
		}
	}
	for _, m := range matching(mfs, "probe_state", map[string]string{"target": "reachable"}) {
		for _, l := range m.GetLabel() {
			if l.GetName() == "expect" {
				t.Errorf("an ordinary probe carries expect=%q", l.GetValue())
			}
		}
	}
	// The reason's text says what was reached.
	res, err := http.Get(e.url + "/api/v1/targets?target=answers_http")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows := string(body)
	if !strings.Contains(rows, `reached `+answers+`, expected unreachable: HTTP 500`) || !strings.Contains(rows, `"reasonClass":"reached"`) {
		t.Errorf("/api/v1/targets for answers_http:\n%s", rows)
	}
}
