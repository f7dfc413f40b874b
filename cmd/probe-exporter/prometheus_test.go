package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/faults"
)

// TestPrometheusScrapesProbe: a real Prometheus scrapes /probe through
// the relabeling blackbox_exporter users already have, and records what
// an allowed target answered; a target outside the allowlist fails its
// scrape (403), so it shows as up 0, not as a probe.
func TestPrometheusScrapesProbe(t *testing.T) {
	bin := os.Getenv("PROBE_EXPORTER_PROMETHEUS")
	if bin == "" {
		t.Skip("no Prometheus: PROBE_EXPORTER_PROMETHEUS is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	up := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	down := faults.Reply(t, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, `
modules:
  http_2xx: {httpGet: {path: /healthz}, timeoutSeconds: 2}
probeEndpoint:
  allowedTargets: [127.0.0.1/32]
targets: []
`)
	e := start(t, "--config.file="+cfg)
	exporter := strings.TrimPrefix(e.url, "http://")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := l.Addr().String()
	l.Close()
	promCfg := filepath.Join(dir, "prometheus.yml")
	// The blackbox_exporter relabeling from its README, unchanged.
	writeConfig(t, promCfg, fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {module: [http_2xx]}
    static_configs:
      - targets: [%q, %q, "169.254.169.254:80"]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: %s
`, up, down, exporter))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prom := exec.CommandContext(ctx, bin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	}()
	query := func(q string) map[string]string {
		res, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer res.Body.Close()
		var body struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(res.Body).Decode(&body) != nil {
			return nil
		}
		out := map[string]string{}
		for _, r := range body.Data.Result {
			v, _ := r.Value[1].(string)
			out[r.Metric["instance"]] = v
		}
		return out
	}
	await.True(t, "Prometheus to record both probes", func() bool {
		s := query(`probe_success{job="blackbox"}`)
		return s[up] == "1" && s[down] == "0"
	})
	if codes := query(`probe_http_status_code{job="blackbox"}`); codes[up] != "200" || codes[down] != "503" {
		t.Errorf("status codes %v", codes)
	}
	await.True(t, "the refused target to be down", func() bool { return query(`up{job="blackbox"}`)["169.254.169.254:80"] == "0" })
	if s := query(`probe_success{instance="169.254.169.254:80"}`); len(s) != 0 {
		t.Errorf("a refused target has probe results: %v", s)
	}
}
