package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
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
