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
	up, down, exporter, dir := probeSetupForPrometheus(t, "  http_2xx: {httpGet: {path: /healthz}, timeoutSeconds: 2}\n")

	// The blackbox_exporter relabeling from its README, unchanged.
	query := startPrometheus(t, dir, fmt.Sprintf(`
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
`, up, down, exporter), "instance")
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

// TestPrometheusOperatorProbe: a Prometheus Operator Probe object pointing
// at /probe (examples/prometheus-operator-probe.yaml), with and without
// module, scraped by a real Prometheus through the scrape config the
// operator generates for static targets (its golden files,
// pkg/prometheus/testdata/ProbeStaticTargetsConfigGenerationWithoutModule
// and ProbeSpecConfig_module_config, v0.85): prober.url as __address__,
// path /probe, params.module, __param_target, the namespace label and
// hashmod sharding with $(SHARD) as the config reloader sets it (0).
func TestPrometheusOperatorProbe(t *testing.T) {
	up, down, exporter, dir := probeSetupForPrometheus(t, "  http_2xx: {httpGet: {path: /healthz}, timeoutSeconds: 2}\n  tcp_connect: {tcpSocket: {}, timeoutSeconds: 2}\n")
	job := func(name, params string) string {
		return fmt.Sprintf(`
  - job_name: probe/default/%s
    honor_timestamps: true
    metrics_path: /probe
    scheme: http
%s    static_configs:
      - targets: [%q, %q]
        labels: {namespace: default}
    relabel_configs:
      - {source_labels: [job], target_label: __tmp_prometheus_job_name}
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: %s}
      - {source_labels: [__param_target, __tmp_hash], target_label: __tmp_hash, regex: (.+);, replacement: $1, action: replace}
      - {source_labels: [__tmp_hash], target_label: __tmp_hash, modulus: 1, action: hashmod}
      - {source_labels: [__tmp_hash, __tmp_disable_sharding], regex: 0;|.+;.+, action: keep}
`, name, params, up, down, exporter)
	}
	// With module tcp_connect: the 503 server accepts connections (1).
	// Without: blackbox's default, http_2xx, here too (the 503 fails: 0).
	query := startPrometheus(t, dir, job("tcp", "    params: {module: [tcp_connect]}\n")+job("default", ""), "job")
	await.True(t, "Prometheus to record both Probe objects' targets", func() bool {
		got := map[string]string{}
		for _, inst := range []string{up, down} {
			for j, v := range query(fmt.Sprintf(`probe_success{instance=%q, namespace="default"}`, inst)) {
				got[j+" "+inst] = v
			}
		}
		return got["probe/default/tcp "+up] == "1" && got["probe/default/tcp "+down] == "1" &&
			got["probe/default/default "+up] == "1" && got["probe/default/default "+down] == "0"
	})
	if codes := query(`probe_http_status_code{job="probe/default/default", instance="` + down + `"}`); codes["probe/default/default"] != "503" {
		t.Errorf("status codes %v", codes)
	}
}

// probeSetupForPrometheus skips without a Prometheus binary; else it starts
// an HTTP server that answers 200 (up) and one that answers 503 (down),
// and the exporter with modules and /probe allowed on loopback; it returns
// their addresses and a directory for the test's files.
func probeSetupForPrometheus(t *testing.T, modules string) (up, down, exporter, dir string) {
	t.Helper()
	if os.Getenv("PROBE_EXPORTER_PROMETHEUS") == "" {
		t.Skip("no Prometheus: PROBE_EXPORTER_PROMETHEUS is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	up = faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	down = faults.Reply(t, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
	dir = t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, "modules:\n"+modules+"probeEndpoint:\n  allowedTargets: [127.0.0.1/32]\ntargets: []\n")
	e := start(t, "--config.file="+cfg)
	return up, down, strings.TrimPrefix(e.url, "http://"), dir
}

// startPrometheus runs a real Prometheus with scrapeConfigs (YAML list
// items under scrape_configs:, scraping every second) until the test
// ends, and returns a query function: an instant query's values by the
// given label.
func startPrometheus(t *testing.T, dir, scrapeConfigs, by string) func(q string) map[string]string {
	t.Helper()
	bin := os.Getenv("PROBE_EXPORTER_PROMETHEUS")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := l.Addr().String()
	l.Close()
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeConfig(t, promCfg, "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:"+scrapeConfigs)
	ctx, cancel := context.WithCancel(context.Background())
	prom := exec.CommandContext(ctx, bin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	return func(q string) map[string]string {
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
			out[r.Metric[by]] = v
		}
		return out
	}
}
