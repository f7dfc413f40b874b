package collector

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/probe-exporter/probe-exporter/internal/golden"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixed is a Reader with a fixed state, so a scrape is byte-for-byte stable.
type fixed = state.Fixed

func probers(t *testing.T) (http, tcp prober.Prober) {
	t.Helper()
	var err error
	http, err = prober.NewEnv(prober.EnvOptions{}).New(&probe.Probe{HTTPGet: &probe.HTTPGetAction{Path: "/", Scheme: "HTTP"}, TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err = prober.NewEnv(prober.EnvOptions{}).New(&probe.Probe{TCPSocket: &probe.TCPSocketAction{}, TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	return http, tcp
}

func fixture(t *testing.T) fixed {
	http, tcp := probers(t)
	webNames := series.NewNames([]string{"target", "kind", "address", "team", "zone"})
	// region sorts between reason and result: both pairs go in around it.
	dbNames := series.NewNames([]string{"target", "kind", "address", "region"})
	appeared := time.Unix(1700000000, 0)

	ready := state.Record{Machine: state.NewMachine(probe.Readiness, 1, 3, appeared)}
	ready.Apply(prober.Outcome{Result: prober.Success, StatusCode: 200}, 1500*time.Microsecond, appeared.Add(10*time.Second))
	ready.Apply(prober.Outcome{Result: prober.Failure, StatusCode: 503, Reason: prober.HTTPStatus}, 2*time.Millisecond, appeared.Add(20*time.Second))

	live := state.Record{Machine: state.NewMachine(probe.Liveness, 1, 1, appeared)}
	live.Apply(prober.Outcome{Result: prober.Failure, LookedUp: true, Lookup: 3 * time.Millisecond}, 250*time.Millisecond, appeared.Add(10*time.Second))
	live.Apply(prober.Outcome{Err: errDiscarded{}, Reason: prober.Timeout}, time.Second, appeared.Add(20*time.Second))

	startup := state.Record{Machine: state.NewMachine(probe.Startup, 1, 30, appeared)} // gated: never attempted

	// An HTTPS probe's last handshake: a certificate whose subject needs
	// escaping, and a probe whose own labels take "version" (so it has
	// no probe_tls_version_info: a series can't carry a name twice).
	secure := ready
	secure.Apply(prober.Outcome{Result: prober.Success, StatusCode: 200, TLS: fixedTLS(t)}, time.Millisecond, appeared.Add(30*time.Second))
	versioned := series.NewNames([]string{"target", "kind", "address", "version"})

	f := fixed{
		{Key: "web-1", Kind: probe.Readiness, Handler: http.Type(), Entry: "web", Labels: series.New(webNames, []string{"web", "readiness", "127.0.0.1:8080", "payments", "a"}), Record: ready},
		{Key: "web-1", Kind: probe.Startup, Handler: tcp.Type(), Entry: "web", Labels: series.New(webNames, []string{"web", "startup", "127.0.0.1:8080", "payments", "a"}), Record: startup},
		{Key: "db-1", Kind: probe.Liveness, Handler: tcp.Type(), Entry: "db", Labels: series.New(dbNames, []string{"db", "liveness", "[::1]:5432", "eu"}), Record: live},
		{Key: "odd", Kind: probe.Readiness, Handler: http.Type(), Entry: "web", Labels: series.New(webNames, []string{"web", "readiness", "127.0.0.2:8080", `quote " back \ slash`, "new\nline"}), Record: ready},
		{Key: "tls", Kind: probe.Readiness, Handler: http.Type(), Entry: "web", Labels: series.New(webNames, []string{"web", "readiness", "127.0.0.3:8443", "payments", "a"}), Record: secure},
		{Key: "tls-v", Kind: probe.Readiness, Handler: http.Type(), Entry: "api", Labels: series.New(versioned, []string{"api", "readiness", "127.0.0.4:8443", "v2"}), Record: secure},
	}
	return f
}

// fixedTLS is the facts of a handshake with a certificate made from a
// fixed Ed25519 seed and template: the same bytes, so the same
// fingerprint, on every run.
func fixedTLS(t *testing.T) *prober.TLSFacts {
	t.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x00ab_cdef), Subject: pkix.Name{CommonName: `odd "quoted" \ name`, Organization: []string{"Shop, Inc."}},
		NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(1800000000, 0), DNSNames: []string{"web.shop.svc", "web.example.com"},
	}
	der, err := x509.CreateCertificate(nil, tpl, tpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return prober.TLSFactsFrom(&tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{c}})
}

type errDiscarded struct{}

func (errDiscarded) Error() string { return "discarded" }

func TestLint(t *testing.T) {
	t.Parallel()
	problems, err := testutil.CollectAndLint(New(fixture(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// The scheduler's self-metrics too.
	reg := prometheus.NewPedanticRegistry()
	scheduler.New(scheduler.Options{}, reg)
	problems, err = testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestGolden pins every per-target series, name, help text and value: the
// user-facing contract. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixture(t)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	golden.Check(t, "testdata/metrics.golden", buf.String(), *update)
}

func TestRemovedTargetHasNoSeries(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	c := New(f)
	if n := testutil.CollectAndCount(c, "probe_state"); n != 6 {
		t.Fatalf("probe_state series: %d", n)
	}
	c.src = f[2:3] // the web targets went away
	if n := testutil.CollectAndCount(c, "probe_state"); n != 1 {
		t.Fatalf("after removal: %d probe_state series", n)
	}
	if n := testutil.CollectAndCount(c, "probe_exporter_targets"); n != 1 {
		t.Fatalf("after removal: %d probe_exporter_targets series", n)
	}
	if len(c.descs) != 1 {
		t.Errorf("descriptors of a vanished entry kept: %d", len(c.descs))
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP probe_exporter_targets Targets currently probed, by target entry.
# TYPE probe_exporter_targets gauge
probe_exporter_targets{target="db"} 1
`), "probe_exporter_targets"); err != nil {
		t.Error(err)
	}
}

// TestFastPathMatchesCollector: /metrics writes per-probe series directly
// for text and OpenMetrics; it must say exactly what client_golang says
// for the same state, line for line.
func TestFastPathMatchesCollector(t *testing.T) {
	t.Parallel()
	c := New(fixture(t))
	full := prometheus.NewRegistry()
	full.MustRegister(c)
	slow := promhttp.HandlerFor(full, promhttp.HandlerOpts{EnableOpenMetrics: true})
	fast := Handler(c, prometheus.NewRegistry(), slow, slog.New(slog.DiscardHandler))
	get := func(h http.Handler, accept string) (string, string) {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String(), rec.Header().Get("Content-Type")
	}
	sortedLines := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	for _, accept := range []string{
		"",
		"text/plain;version=0.0.4",
		"application/openmetrics-text;version=1.0.0",
		"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
	} {
		want, wantType := get(slow, accept)
		got, gotType := get(fast, accept)
		if gotType != wantType {
			t.Errorf("Accept %q: content type %q, want %q", accept, gotType, wantType)
		}
		if sortedLines(got) != sortedLines(want) {
			t.Errorf("Accept %q: fast path differs from client_golang\n got:\n%s\nwant:\n%s", accept, got, want)
		}
		if strings.Contains(wantType, "openmetrics") && !strings.HasSuffix(got, "# EOF\n") {
			t.Errorf("OpenMetrics output does not end with # EOF")
		}
	}
	// Delimited protobuf: the same families, metrics and label pairs as
	// client_golang's, decoded from both.
	const protoAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	want, wantType := get(slow, protoAccept)
	got, gotType := get(fast, protoAccept)
	if gotType != wantType {
		t.Errorf("protobuf content type %q, want %q", gotType, wantType)
	}
	if g, w := decodeProto(t, got, gotType), decodeProto(t, want, wantType); g != w {
		t.Errorf("protobuf differs from client_golang\n got:\n%s\nwant:\n%s", g, w)
	}
	// The protobuf text format (debugging) is left to client_golang.
	if _, typ := get(fast, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"); !strings.Contains(typ, "encoding=text") {
		t.Errorf("protobuf text served as %q", typ)
	}
	// gzip when asked.
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	fast.ServeHTTP(rec, req)
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(body), "probe_state{") {
		t.Errorf("gzip body: %v", err)
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip;q=0.5", true},
		{"gzip; q=0.05", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000", false},
		{"deflate, gzip;q=1.0, *;q=0", true},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
		{"identity", false},
		{"br;q=0, gzip", true},
		{"GZIP", true},
		{"gzip;q=abc", false},
	} {
		r := &http.Request{Header: http.Header{"Accept-Encoding": {tc.header}}}
		if got := acceptsGzip(r); got != tc.want {
			t.Errorf("Accept-Encoding %q: gzip=%v, want %v", tc.header, got, tc.want)
		}
	}
}

// decodeProto decodes a delimited protobuf body into one line per metric
// (family, type, sorted label pairs, value), sorted.
func decodeProto(t *testing.T, body, contentType string) string {
	t.Helper()
	h := http.Header{}
	h.Set("Content-Type", contentType)
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.ResponseFormat(h))
	var lines []string
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, m := range mf.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			lines = append(lines, fmt.Sprintf("%s %s %q {%s} gauge=%v counter=%v", mf.GetName(), mf.GetType(), mf.GetHelp(),
				strings.Join(pairs, ","), m.GetGauge().GetValue(), m.GetCounter().GetValue()))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
