package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/certtest"
)

// TestTLSFactsOnMetrics: a scheduled HTTPS probe's last handshake shows
// on /metrics under blackbox_exporter's names, with the probe's own
// labels, one series of each per probe; when the server's certificate
// rotates, its info series is replaced, not joined; a cleartext probe
// has none.
func TestTLSFactsOnMetrics(t *testing.T) {
	first := certtest.New(t, "web.shop.example", time.Now().Add(60*24*time.Hour).Truncate(time.Second))
	second := certtest.New(t, "web.shop.example", time.Now().Add(10*24*time.Hour).Truncate(time.Second))
	srv := certtest.Serve(t, first)
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	port := func(u string) string { return u[strings.LastIndex(u, ":")+1:] }

	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, fmt.Sprintf(`
targets:
  - name: web
    static: [{host: 127.0.0.1, port: %s, labels: {team: payments}}]
    readinessProbe: {httpGet: {path: /healthz, scheme: HTTPS}, periodSeconds: 1}
  - name: plain
    static: [{host: 127.0.0.1, port: %s}]
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1}
`, port(srv.URL), port(plain.URL)))
	e := start(t, "--config.file="+path)
	web := map[string]string{"target": "web", "kind": "readiness", "address": "127.0.0.1:" + port(srv.URL), "team": "payments"}
	fingerprint := func(c certtest.Chain) string { return fmt.Sprintf("%x", sha256.Sum256(c.Leaf.Raw)) }
	// Every scrape on the way: one series of each per probe, none for
	// the cleartext probe.
	invariants := func(mfs map[string]*dto.MetricFamily) {
		for _, name := range []string{"probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds", "probe_ssl_last_chain_info", "probe_tls_version_info"} {
			if n := len(matching(mfs, name, web)); n > 1 {
				t.Errorf("%d series of %s for one probe", n, name)
			}
			if n := len(matching(mfs, name, map[string]string{"target": "plain"})); n != 0 {
				t.Errorf("a cleartext probe has %s", name)
			}
		}
	}
	showing := func(c certtest.Chain) func(map[string]*dto.MetricFamily) bool {
		return func(mfs map[string]*dto.MetricFamily) bool {
			info := map[string]string{"fingerprint_sha256": fingerprint(c)}
			for k, v := range web {
				info[k] = v
			}
			return len(matching(mfs, "probe_ssl_last_chain_info", info)) == 1
		}
	}
	e.eventually(t, "the first certificate's facts", showing(first), invariants)
	mfs := e.scrape(t)
	info := matching(mfs, "probe_ssl_last_chain_info", web)[0]
	labels := map[string]string{}
	for _, lp := range info.GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	for k, want := range map[string]string{"subject": `CN=web.shop.example,O=Shop\, Inc.`, "issuer": `CN=Shop Intermediate CA,O=Shop\, Inc.`,
		"subjectalternative": "web.shop.example,www.web.shop.example", "serialnumber": "0a0b"} {
		if labels[k] != want {
			t.Errorf("%s=%q, want %q", k, labels[k], want)
		}
	}
	for name, want := range map[string]float64{
		"probe_ssl_earliest_cert_expiry":                float64(first.Intermediate.NotAfter.Unix()),
		"probe_ssl_last_chain_expiry_timestamp_seconds": float64(first.Intermediate.NotAfter.Unix()),
	} {
		if v, ok := value(mfs, name, web); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v, ok := value(mfs, "probe_tls_version_info", map[string]string{"target": "web", "version": "TLS 1.3"}); !ok || v != 1 {
		t.Errorf("probe_tls_version_info{version=\"TLS 1.3\"} = %v (%v)", v, ok)
	}

	srv.Rotate(second)
	e.eventually(t, "the rotated certificate's facts", showing(second), invariants)
	mfs = e.scrape(t)
	if n := len(matching(mfs, "probe_ssl_last_chain_info", map[string]string{"fingerprint_sha256": fingerprint(first)})); n != 0 {
		t.Error("the rotated-out certificate's series stayed")
	}
	if v, _ := value(mfs, "probe_ssl_earliest_cert_expiry", web); v != float64(second.Intermediate.NotAfter.Unix()) {
		t.Errorf("expiry after rotation %v, want %v", v, second.Intermediate.NotAfter.Unix())
	}
}
