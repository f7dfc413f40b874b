package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/faults"
)

// TestStatusAPI: /api/v1/targets answers what /metrics says, from the
// running binary: the failing target first with its kubelet-worded
// reason, its history and thresholds; /targets renders the same rows.
func TestStatusAPI(t *testing.T) {
	srv := faults.Reply(t, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
	_, port, _ := net.SplitHostPort(srv)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: api
    static: [{host: 127.0.0.1, port: %s, labels: {team: payments}}]
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1, failureThreshold: 2}
  - name: closed
    static: [{host: 127.0.0.1, port: 1}]
    livenessProbe: {tcpSocket: {}, periodSeconds: 1, failureThreshold: 1}
`, port))
	e := start(t, "--config.file="+cfg)
	e.eventually(t, "api failing", stateIs(map[string]string{"target": "api"}, 0), nil)
	e.eventually(t, "api failing by its thresholds", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_consecutive_failures", map[string]string{"target": "api"})
		return v >= 2
	}, nil)
	res, err := client.Get(e.url + "/api/v1/targets?target=api")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string `json:"status"`
		Data   []struct {
			Target, Kind, Address, State, Reason, LastResult string
			Labels                                           map[string]string
			ConsecutiveFailures, FailureThreshold            int
			History                                          []string
		} `json:"data"`
		Total int `json:"total"`
	}
	err = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if err != nil || body.Status != "success" || body.Total != 1 {
		t.Fatalf("%v %+v", err, body)
	}
	r := body.Data[0]
	if r.Address != "127.0.0.1:"+port || r.Kind != "readiness" || r.State != "failure" || r.LastResult != "failure" ||
		r.Reason != "HTTP probe failed with statuscode: 503" || r.Labels["team"] != "payments" ||
		r.ConsecutiveFailures < 2 || r.FailureThreshold != 2 || len(r.History) < 2 || r.History[len(r.History)-1] != "failure" {
		t.Errorf("row %+v", r)
	}
	page, err := client.Get(e.url + "/targets?state=failure")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	for _, want := range []string{`data-target="api"`, `data-target="closed"`, "HTTP probe failed with statuscode: 503", "connection refused"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("/targets lacks %q", want)
		}
	}
}

// TestProbeEndpointReload: /probe on the running binary follows the
// configuration: on with a probeEndpoint block, 404 once a reload removes
// it; refusals answer 403.
func TestProbeEndpointReload(t *testing.T) {
	srv := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	modules := "modules:\n  http_2xx: {httpGet: {path: /}}\ntargets: []\n"
	writeConfig(t, cfg, modules+"probeEndpoint: {allowedTargets: [127.0.0.1/32]}\n")
	e := start(t, "--config.file="+cfg)
	get := func(query string) (int, string) {
		t.Helper()
		res, err := client.Get(e.url + "/probe?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, body := get("module=http_2xx&target=" + srv); code != 200 || !strings.Contains(body, "probe_success 1") {
		t.Errorf("allowed: %d %s", code, body)
	}
	if code, body := get("module=http_2xx&target=169.254.169.254:80"); code != 403 || !strings.Contains(body, "169.254.0.0/16") {
		t.Errorf("metadata: %d %s", code, body)
	}
	writeConfig(t, cfg, modules)
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitLog(t, "configuration reloaded")
	if code, _ := get("module=http_2xx&target=" + srv); code != 404 {
		t.Errorf("after the block is removed: %d", code)
	}
	mfs := e.scrape(t)
	for result, want := range map[string]float64{"success": 1, "refused": 1, "disabled": 1} {
		if v, _ := value(mfs, "probe_exporter_probe_requests_total", map[string]string{"result": result}); v != want {
			t.Errorf("requests %s: %v, want %v", result, v, want)
		}
	}
}
