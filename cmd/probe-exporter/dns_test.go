package main

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/dnstest"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestDNSDiscovery: the binary discovers A records from a real DNS server
// and follows them when they change; a brace range makes one target per
// name, and a name missing from DNS is a failing target, not an absent one.
func TestDNSDiscovery(t *testing.T) {
	kubetest.RequireNetns(t) // the brace range's names are looked up by the namespace's resolver
	srv := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	_, port, _ := net.SplitHostPort(srv)
	z := dnstest.NewZone()
	z.Set("db.test. A", "db.test. 1 IN A 127.0.0.1")
	ns := dnstest.Serve(t, z)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: db
    dns: {names: [db.test.], type: A, port: %s, nameservers: [%q], refreshInterval: 1s}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1}
  - name: pods
    dns: {names: ["web-{0..1}.nowhere.example"], type: A, port: 80, nameservers: [%q]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1, failureThreshold: 1}
`, port, ns, ns))
	e := start(t, "--config.file="+cfg)
	first := map[string]string{"target": "db", "address": "127.0.0.1:" + port}
	e.eventually(t, "the A record's target ready", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_state", first)
		return v == 1
	}, nil)
	mfs := e.scrape(t)
	if v, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "db", "mechanism": "dns"}); v != 1 {
		t.Errorf("synced %v", v)
	}
	for _, name := range []string{"web-0.nowhere.example:80", "web-1.nowhere.example:80"} {
		e.eventually(t, name+" probed and failing", func(mfs map[string]*dto.MetricFamily) bool {
			v, ok := value(mfs, "probe_success", map[string]string{"target": "pods", "address": name})
			return ok && v == 0
		}, nil)
	}

	// The record changes: the old target goes, the new one is probed.
	z.Set("db.test. A", "db.test. 1 IN A 127.0.0.2")
	e.eventually(t, "the target to follow the record", func(mfs map[string]*dto.MetricFamily) bool {
		_, old := value(mfs, "probe_state", first)
		_, now := value(mfs, "probe_results_total", map[string]string{"target": "db", "address": "127.0.0.2:" + port, "result": "failure"})
		return !old && now
	}, nil)
}
