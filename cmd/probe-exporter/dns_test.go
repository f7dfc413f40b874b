package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/dnstest"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestDNSDiscovery: the binary discovers A records from a real DNS server
// and follows them when they change; a brace range makes one target per
// name, and a name missing from DNS is a failing target, not an absent
// one, whose reason says NXDOMAIN. Every name probed resolves through the
// one resolver: the entry's nameservers, or resolv.conf's with its search
// list, with lookup times and resolver metrics exported.
func TestDNSDiscovery(t *testing.T) {
	kubetest.RequireNetns(t) // a nameserver on port 53 of the test's own namespace
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
    dns: {names: ["web-{0..2}.web.test."], type: A, port: %s, nameservers: [%q]}
    readinessProbe: {tcpSocket: {}, periodSeconds: 1, failureThreshold: 1}
  - name: api
    static: [{host: api, port: %s}]
    readinessProbe: {httpGet: {path: /}, periodSeconds: 1}
`, port, ns, port, ns, port))
	// The static host's short name resolves through resolv.conf: its
	// nameserver (on port 53, in the test's own namespace) and search list.
	local := dnstest.NewZone()
	local.Set("api.test. A", "api.test. 30 IN A 127.0.0.1")
	dnstest.ServeOn(t, local, "127.0.0.53:53")
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	writeConfig(t, resolv, "nameserver 127.0.0.53\nsearch test\noptions ndots:2 timeout:1\n")
	z.Set("web-0.web.test. A", "web-0.web.test. 30 IN A 127.0.0.1")
	z.Set("web-1.web.test. A", "web-1.web.test. 30 IN A 127.0.0.1")
	e := start(t, "--config.file="+cfg, "--dns.resolv-conf="+resolv)
	first := map[string]string{"target": "db", "address": "127.0.0.1:" + port}
	e.eventually(t, "the A record's target ready", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_state", first)
		return v == 1
	}, nil)
	mfs := e.scrape(t)
	if v, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "db", "mechanism": "dns"}); v != 1 {
		t.Errorf("synced %v", v)
	}
	// Pods in DNS pass; the one missing is a failing target whose reason
	// says NXDOMAIN (in the log, never in a label).
	for i, want := range []float64{1, 1, 0} {
		name := fmt.Sprintf("web-%d.web.test:%s", i, port)
		e.eventually(t, name+" probed", func(mfs map[string]*dto.MetricFamily) bool {
			v, ok := value(mfs, "probe_state", map[string]string{"target": "pods", "address": name})
			return ok && v == want
		}, nil)
	}
	e.waitLog(t, "lookup web-2.web.test on "+ns+": NXDOMAIN")
	e.eventually(t, "the short name through the search list", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_state", map[string]string{"target": "api", "address": "api:" + port})
		return v == 1
	}, nil)

	mfs = e.scrape(t)
	// Lookup time: for probes of names only.
	if _, ok := value(mfs, "probe_dns_lookup_time_seconds", map[string]string{"target": "pods", "address": "web-0.web.test:" + port}); !ok {
		t.Error("no probe_dns_lookup_time_seconds for a name")
	}
	if _, ok := value(mfs, "probe_dns_lookup_time_seconds", first); ok {
		t.Error("probe_dns_lookup_time_seconds for an IP address")
	}
	if v, _ := value(mfs, "probe_exporter_dns_queries_total", map[string]string{"server": "127.0.0.53:53", "protocol": "udp"}); v < 1 {
		t.Errorf("queries to resolv.conf's nameserver: %v", v)
	}
	if v, _ := value(mfs, "probe_exporter_dns_responses_total", map[string]string{"server": ns, "rcode": "NXDOMAIN"}); v < 1 {
		t.Errorf("NXDOMAIN responses from the entry's nameserver: %v", v)
	}
	e.eventually(t, "answers from the cache", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_dns_cache_hits_total", map[string]string{"answer": "positive"})
		return v >= 2
	}, nil)

	// The record changes: the old target goes, the new one is probed.
	z.Set("db.test. A", "db.test. 1 IN A 127.0.0.2")
	e.eventually(t, "the target to follow the record", func(mfs map[string]*dto.MetricFamily) bool {
		_, old := value(mfs, "probe_state", first)
		_, now := value(mfs, "probe_results_total", map[string]string{"target": "db", "address": "127.0.0.2:" + port, "result": "failure"})
		return !old && now
	}, nil)
}

// TestDNSAnswerNeverRunsACommand: an SRV answer whose target is shell
// text (`id>pwned`.evil.test) never becomes a target, so the exec
// pattern that interpolates $(PROBE_HOST) into a shell string (which
// README warns against) can't run it; it is counted as skipped, and the
// valid answer beside it is probed.
func TestDNSAnswerNeverRunsACommand(t *testing.T) {
	srv := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	_, port, _ := net.SplitHostPort(srv)
	z := dnstest.NewZone()
	z.Set("_p._tcp.evil.test. SRV",
		"_p._tcp.evil.test. 30 IN SRV 0 0 "+port+" ok.evil.test.",
		"_p._tcp.evil.test. 30 IN SRV 0 0 "+port+" `id>pwned`.evil.test.")
	z.Set("ok.evil.test. A", "ok.evil.test. 30 IN A 127.0.0.1")
	ns := dnstest.Serve(t, z)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: evil
    dns: {names: [_p._tcp.evil.test.], nameservers: [%q]}
    readinessProbe:
      exec: {command: [/bin/sh, -c, 'cd %s && echo $(PROBE_HOST)']}
      periodSeconds: 1
`, ns, dir))
	e := start(t, "--config.file="+cfg)
	e.eventually(t, "the valid answer probed, the other skipped", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_state", map[string]string{"target": "evil", "address": "ok.evil.test:" + port})
		skipped, _ := value(mfs, "probe_exporter_discovery_skipped", map[string]string{"target": "evil", "mechanism": "dns", "reason": "invalid_host"})
		return v == 1 && skipped == 1
	}, nil)
	for _, mf := range e.scrape(t) {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.ContainsAny(l.GetValue(), "`>") {
					t.Errorf("%s has a label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a DNS answer ran a command")
	}
}
