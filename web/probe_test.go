package web

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/internal/dnstest"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/resolver"
	"github.com/probe-exporter/probe-exporter/series"
)

// probeSetup is /probe over a real prober Env whose names resolve
// through a real (in-process) DNS server.
type probeSetup struct {
	h        http.Handler
	requests *prometheus.CounterVec
	port     string // the healthy server's
}

func newProbeSetup(t *testing.T, endpoint string, targets probes) *probeSetup {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop":
			http.Redirect(w, r, "/", http.StatusFound)
		case "/redirect-away":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/delay":
			time.Sleep(300 * time.Millisecond)
			fmt.Fprintln(w, "ok")
		default:
			fmt.Fprintln(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	z := dnstest.NewZone()
	z.Set("ok.allowed.test. A", "ok.allowed.test. 30 IN A 127.0.0.1")
	z.Set("rebind.allowed.test. A", "rebind.allowed.test. 30 IN A 169.254.169.254")
	z.Set("loop.allowed.test. A", "loop.allowed.test. 30 IN A 127.0.0.9")
	ns := dnstest.Serve(t, z)
	reg := prometheus.NewRegistry()
	env := prober.NewEnv(prober.EnvOptions{Resolvers: resolver.NewPool(resolver.Options{CacheSize: 100}, reg),
		Resolv: resolver.Config{Servers: []string{ns}, Ndots: 1, Timeout: time.Second, Attempts: 1, HostsFile: filepath.Join(t.TempDir(), "none")}})
	cfg, err := config.Parse([]byte(`
modules:
  http_2xx: {httpGet: {path: /}, timeoutSeconds: 3}
  slow: {httpGet: {path: /slow}, timeoutSeconds: 3}
  delay: {httpGet: {path: /delay}, timeoutSeconds: 3}
  https: {httpGet: {scheme: HTTPS, path: /}, timeoutSeconds: 3}
  grpc: {grpc: {port: 1}}
  tcp: {tcpSocket: {}}
  tcp_fixed: {tcpSocket: {port: `+port+`}}
`+endpoint), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &probeSetup{requests: NewProbeRequests(reg), port: port}
	s.h = &probeHandler{o: ProbeOptions{Config: func() *config.Config { return cfg }, Probers: env, Targets: targets, Requests: s.requests}}
	return s
}

func (s *probeSetup) get(t *testing.T, query string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/probe?"+query, nil)
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

const endpoint = `probeEndpoint:
  allowedTargets: ["127.0.0.1/32", "*.allowed.test", "db.allowed.test:5432"]
`

func TestProbeEndpoint(t *testing.T) {
	s := newProbeSetup(t, endpoint, nil)
	p := s.port
	for _, c := range []struct {
		query string
		code  int
		want  []string
	}{
		{"module=http_2xx&target=127.0.0.1:" + p, 200, []string{"probe_success 1", "probe_http_status_code 200", "probe_ip_protocol 4", "probe_duration_seconds ",
			"probe_http_content_length 3", "probe_http_version 1.1", "probe_http_redirects 0",
			`probe_http_duration_seconds{phase="connect"}`, `probe_http_duration_seconds{phase="processing"}`, `probe_http_duration_seconds{phase="transfer"}`, `probe_http_duration_seconds{phase="tls"} 0`}},
		{"module=http_2xx&target=http://127.0.0.1:" + p + "/hop", 200, []string{"probe_success 1", "probe_http_redirects 1"}},
		{"module=http_2xx&target=http://127.0.0.1:" + p + "/x?y=1", 200, []string{"probe_success 1"}},
		{"module=http_2xx&target=ok.allowed.test:" + p, 200, []string{"probe_success 1", "probe_dns_lookup_time_seconds "}},
		{"module=tcp&target=127.0.0.1:" + p, 200, []string{"probe_success 1"}},
		{"module=tcp_fixed&target=127.0.0.1", 200, []string{"probe_success 1"}},
		// A redirect to another host is not followed (the kubelet's rule):
		// nothing dials the metadata address, and the 302 is the answer.
		{"module=http_2xx&target=http://127.0.0.1:" + p + "/redirect-away", 200, []string{"probe_success 1", "probe_http_status_code 302"}},
		// Resolution is judged at dial time: a listed name that resolves
		// into the metadata range, or onto loopback it does not list.
		{"module=http_2xx&target=rebind.allowed.test:80", 200, []string{"probe_success 0", "probe_ip_protocol 0"}},
		{"module=tcp&target=loop.allowed.test:" + p, 200, []string{"probe_success 0"}},
		// Refused before anything is dialed.
		{"module=tcp&target=db.allowed.test:22", 200, []string{"probe_success 0"}}, // the glob covers it; NXDOMAIN fails
		{"module=tcp&target=evil.test:80", 403, []string{"evil.test:80 is not in probeEndpoint.allowedTargets"}},
		{"module=tcp&target=169.254.169.254:80", 403, []string{"in 169.254.0.0/16"}},
		{"module=tcp&target=[::ffff:169.254.169.254]:80", 403, []string{"in 169.254.0.0/16"}},
		{"module=tcp&target=0xa9fea9fe:80", 403, []string{"non-canonical form"}},
		{"module=tcp&target=2852039166:80", 403, []string{"non-canonical form"}},
		{"module=tcp&target=0251.0376.0251.0376:80", 403, []string{"non-canonical form"}},
		{"module=http_2xx&target=http://0xa9fea9fe/", 403, []string{"non-canonical form"}},
		{"module=tcp&target=127.0.0.2:" + p, 403, []string{"in 127.0.0.0/8"}},
		{"module=tcp&target=[::1]:" + p, 403, []string{"in ::1/128"}},
		// Bad requests.
		{"module=nope&target=127.0.0.1:80", 400, []string{`unknown module "nope"`}},
		{"target=127.0.0.1:" + p, 200, []string{"probe_success 1", "probe_http_status_code 200"}}, // http_2xx, as blackbox
		{"module=tcp", 400, []string{"target parameter is missing"}},
		{"module=tcp&target=127.0.0.1", 400, []string{"no port"}},
		{"module=tcp&target=http://127.0.0.1/", 400, []string{"a URL needs an httpGet module"}},
		{"module=http_2xx&target=ftp://127.0.0.1/", 400, []string{`scheme "ftp"`}},
		{"module=http_2xx&target=http://user:pw@127.0.0.1:" + p + "/", 400, []string{"user info"}},
	} {
		code, body := s.get(t, c.query)
		if code != c.code {
			t.Errorf("%s: %d, want %d\n%s", c.query, code, c.code, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the answer lacks %q:\n%s", c.query, w, body)
			}
		}
	}
	if v := testutil.ToFloat64(s.requests.WithLabelValues("refused")); v != 9 {
		t.Errorf("refused counted %v, want 9", v)
	}
	// debug=true shows what each dial was judged.
	_, body := s.get(t, "module=tcp&target=loop.allowed.test:"+p+"&debug=true")
	if !strings.Contains(body, "dial 127.0.0.9:"+p+": refused") || !strings.Contains(body, "Result: failure") {
		t.Errorf("debug output:\n%s", body)
	}
	// HTTPS goes through net/http's Transport: its dials are judged too
	// (127.0.0.9 is loopback, so nothing leaves even if they were not).
	_, body = s.get(t, "module=https&target=loop.allowed.test:"+p+"&debug=true")
	if !strings.Contains(body, "dial 127.0.0.9:"+p+": refused") || !strings.Contains(body, "Result: failure") {
		t.Errorf("HTTPS debug output:\n%s", body)
	}
	_, body = s.get(t, "module=grpc&target=loop.allowed.test:"+p+"&debug=true")
	if !strings.Contains(body, "dial 127.0.0.9:"+p+": refused") || !strings.Contains(body, "Result: failure") {
		t.Errorf("gRPC debug output:\n%s", body)
	}
	_, body = s.get(t, "module=tcp&target=127.0.0.1:"+p+"&debug=true")
	if !strings.Contains(body, "dial 127.0.0.1:"+p+": allowed") || !strings.Contains(body, "probe_success 1") {
		t.Errorf("debug output:\n%s", body)
	}
}

// TestProbeTLS: an HTTPS target's certificate expiry, leaf certificate
// and TLS version, as blackbox_exporter answers them.
func TestProbeTLS(t *testing.T) {
	s := newProbeSetup(t, endpoint, nil)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer srv.Close()
	code, body := s.get(t, "module=http_2xx&target="+srv.URL+"/")
	expiry := srv.Certificate().NotAfter.Unix()
	if strings.Contains(body, `probe_http_duration_seconds{phase="tls"} 0`+"\n") {
		t.Errorf("no TLS phase over HTTPS:\n%s", body)
	}
	sum := sha256.Sum256(srv.Certificate().Raw)
	for _, want := range []string{"probe_success 1", `probe_tls_version_info{version="TLS 1.3"} 1`, fmt.Sprintf("probe_ssl_earliest_cert_expiry %g", float64(expiry)),
		fmt.Sprintf("probe_ssl_last_chain_expiry_timestamp_seconds %g", float64(expiry)),
		fmt.Sprintf(`probe_ssl_last_chain_info{fingerprint_sha256="%x",issuer="O=Acme Co",serialnumber="%x",subject="O=Acme Co",subjectalternative="example.com,*.example.com"} 1`,
			sum, srv.Certificate().SerialNumber.Bytes())} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%d: the answer lacks %q:\n%s", code, want, body)
		}
	}
	phasesTimed(t, body, "connect", "tls", "processing", "transfer")
	// A cleartext answer has no TLS gauges; its phases are timed through
	// our one-shot transport.
	_, body = s.get(t, "module=http_2xx&target=127.0.0.1:"+s.port)
	if strings.Contains(body, "probe_tls_version_info") || strings.Contains(body, "probe_ssl_") {
		t.Errorf("TLS gauges without TLS:\n%s", body)
	}
	phasesTimed(t, body, "connect", "processing", "transfer")
}

// phasesTimed checks that each phase took some time.
func phasesTimed(t *testing.T, body string, phases ...string) {
	t.Helper()
	for _, ph := range phases {
		m := regexp.MustCompile(`probe_http_duration_seconds\{phase="` + ph + `"\} (\S+)`).FindStringSubmatch(body)
		if len(m) < 2 {
			t.Errorf("no phase %s:\n%s", ph, body)
			continue
		}
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 {
			t.Errorf("phase %s not timed:\n%s", ph, body)
		}
	}
}

func TestProbeEndpointOff(t *testing.T) {
	s := newProbeSetup(t, "", nil)
	if code, body := s.get(t, "module=tcp&target=127.0.0.1:"+s.port); code != 404 || !strings.Contains(body, "no probeEndpoint") {
		t.Errorf("%d %s", code, body)
	}
}

// TestProbeDiscovered: allowDiscovered allows what the exporter probes
// now, and only that.
func TestProbeDiscovered(t *testing.T) {
	addr := faults.ListenOn(t, "127.0.0.3:0", func(net.Conn) {})     // accepts, closes
	execAddr := faults.ListenOn(t, "127.0.0.4:0", func(net.Conn) {}) // only an exec probe names it
	names := series.NewNames([]string{"target", "kind", "address"})
	env := prober.NewEnv(prober.EnvOptions{})
	tcp, _ := env.New(&probe.Probe{TCPSocket: &probe.TCPSocketAction{}, TimeoutSeconds: 1})
	execP, _ := env.New(&probe.Probe{Exec: &probe.ExecAction{Command: []string{"/bin/true"}}, TimeoutSeconds: 1})
	src := probes{
		{Key: "x", Entry: "db", Handler: tcp.Type(), Labels: series.New(names, []string{"db", "readiness", addr})},
		{Key: "y", Entry: "job", Handler: execP.Type(), Labels: series.New(names, []string{"job", "readiness", execAddr})},
	}
	s := newProbeSetup(t, "probeEndpoint: {allowDiscovered: true}\n", src)
	if code, body := s.get(t, "module=tcp&target="+addr); code != 200 || !strings.Contains(body, "probe_success 1") {
		t.Errorf("a discovered target: %d %s", code, body)
	}
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	if code, _ := s.get(t, fmt.Sprintf("module=tcp&target=127.0.0.3:%d", n+1)); code != 403 {
		t.Errorf("another port of a discovered host: %d", code)
	}
	// An exec probe dials nothing: its address is no reason to reach it.
	if code, body := s.get(t, "module=tcp&target="+execAddr); code != 403 {
		t.Errorf("an address only an exec probe names: %d %s", code, body)
	}
}

// TestProbeTimeoutAndBusy: the scrape timeout bounds the attempt, and
// the concurrency bound refuses what can't get a slot in time.
func TestProbeTimeoutAndBusy(t *testing.T) {
	s := newProbeSetup(t, endpoint+"  maxConcurrent: 1\n", nil)
	target := "module=slow&target=127.0.0.1:" + s.port
	start := time.Now()
	_, body := s.get(t, target, "X-Prometheus-Scrape-Timeout-Seconds", "1")
	if took := time.Since(start); took > 900*time.Millisecond || !strings.Contains(body, "probe_success 0") {
		t.Errorf("took %v (scrape timeout 1s, minus 0.5s):\n%s", took, body)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		close(started)
		s.get(t, target, "X-Prometheus-Scrape-Timeout-Seconds", "2.5")
	}()
	<-started
	// Wait until the first request holds the one slot.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.requests.WithLabelValues("busy")) == 0 && time.Now().Before(deadline) {
		code, body := s.get(t, target, "X-Prometheus-Scrape-Timeout-Seconds", "0.7")
		if code == 503 {
			if !strings.Contains(body, "maxConcurrent") {
				t.Errorf("busy body: %s", body)
			}
			break
		}
	}
	wg.Wait()
	if testutil.ToFloat64(s.requests.WithLabelValues("busy")) == 0 {
		t.Error("no request was refused as busy")
	}
}

// TestProbeAnswersAsBlackbox: /probe's answers for the cases
// blackbox_exporter's own tests (prober/handler_test.go, http_test.go,
// v0.28) and README pin down, case by case; where we differ on purpose the
// case says so and README's migration section lists it.
func TestProbeAnswersAsBlackbox(t *testing.T) {
	const vhost = "foo.example.com"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			w.Header().Set("Location", "/loop")
			w.WriteHeader(http.StatusFound)
			fmt.Fprint(w, "loop\n")
		case "/short":
			// Content-Length 1000, 10 bytes, close.
			conn, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
			buf.Flush()
			conn.Close()
		case "/vhost":
			if r.Host != vhost {
				http.Error(w, "Host "+r.Host, http.StatusMisdirectedRequest)
			}
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != vhost || r.TLS.ServerName != vhost {
			http.Error(w, "Host "+r.Host+" SNI "+r.TLS.ServerName, http.StatusMisdirectedRequest)
		}
	}))
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	s := newProbeSetup(t, endpoint, nil)
	for _, c := range []struct {
		name, query string
		header      []string
		code        int
		want        []string
	}{
		// handler.go: no module parameter means http_2xx.
		{"no module", "target=" + srv.URL + "/vhost&hostname=" + vhost, nil, 200, []string{"probe_success 1"}},
		// TestHostnameParam: hostname is the Host header...
		{"hostname", "module=http_2xx&target=" + srv.URL + "/vhost&hostname=" + vhost, nil, 200, []string{"probe_success 1", "probe_http_status_code 200"}},
		// ...and over TLS the server name too (http.go: the Host header
		// wins over the target's host for ServerName).
		{"hostname over TLS", "module=http_2xx&target=" + tlsSrv.URL + "/&hostname=" + vhost, nil, 200, []string{"probe_success 1", "probe_http_ssl 1"}},
		// TestRedirectionLimit: the last 3xx's status, and its redirect
		// count. Ours is the kubelet's limit: 9 followed, the 10th refused
		// (blackbox follows 10 and counts the refused one: 11).
		{"redirect loop", "module=http_2xx&target=" + srv.URL + "/loop", nil, 200, []string{"probe_success 0", "probe_http_status_code 302", "probe_http_redirects 9", "probe_http_version 1.1", "probe_http_content_length 5"}},
		// A body cut short: the head was read, and says so.
		{"body cut short", "module=http_2xx&target=" + srv.URL + "/short", nil, 200, []string{"probe_success 0", "probe_http_status_code 200", "probe_http_content_length 1000", "probe_http_version 1.1"}},
		// Gauges blackbox always registers for an HTTP probe.
		{"cleartext", "module=http_2xx&target=" + srv.URL + "/", nil, 200, []string{"probe_http_ssl 0", "probe_dns_lookup_time_seconds 0", "probe_ip_protocol 4"}},
		// getTimeout: an unparsable header is a 500; one below the offset
		// falls back to the module's timeout (3 s: the attempt succeeds).
		{"unparsable timeout", "module=http_2xx&target=" + srv.URL + "/", []string{"X-Prometheus-Scrape-Timeout-Seconds", "soon"}, 500, []string{"Failed to parse timeout from Prometheus header"}},
		{"timeout below the offset", "module=http_2xx&target=" + srv.URL + "/", []string{"X-Prometheus-Scrape-Timeout-Seconds", "0.1"}, 200, []string{"probe_success 1"}},
	} {
		code, body := s.get(t, c.query, c.header...)
		if code != c.code {
			t.Errorf("%s: %d, want %d\n%s", c.name, code, c.code, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w+"\n") && !strings.Contains(body, w) {
				t.Errorf("%s: the answer lacks %q:\n%s", c.name, w, body)
			}
		}
	}

	// TestHostnameParam: a module's own Host header and another hostname
	// conflict: 400.
	h := bareProbeHandler(t, "modules: {vhost: {httpGet: {path: /, httpHeaders: [{name: Host, value: other.example.com}]}}}\nprobeEndpoint: {allowedTargets: [127.0.0.1/32]}\n")
	if code, body := probeAnswer(h, "module=vhost&target="+srv.URL+"/&hostname="+vhost); code != 400 || !strings.Contains(body, "host header defined both in module configuration") {
		t.Errorf("conflicting Host: %d %s", code, body)
	}
}

// bareProbeHandler is /probe on a config alone, for answers given before
// anything is probed.
func bareProbeHandler(t *testing.T, yaml string) http.Handler {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &probeHandler{o: ProbeOptions{Config: func() *config.Config { return cfg }, Requests: NewProbeRequests(prometheus.NewRegistry())}}
}

func probeAnswer(h http.Handler, query string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?"+query, nil))
	return rec.Code, rec.Body.String()
}

// TestProbeTimeoutAsBlackbox is blackbox_exporter's TestTimeoutIsSetCorrectly
// (offset 0.5 s), for the modules we can have (a module's timeout is never
// 0 here: the API default makes it 1 s), and the header at the offset.
func TestProbeTimeoutAsBlackbox(t *testing.T) {
	for _, c := range []struct {
		module time.Duration
		header string
		want   time.Duration
	}{
		{20 * time.Second, "15", 14500 * time.Millisecond},
		{5 * time.Second, "15", 5 * time.Second},
		{10 * time.Second, "", 10 * time.Second},
		{10 * time.Second, "10", 9500 * time.Millisecond},
		{9500 * time.Millisecond, "", 9500 * time.Millisecond},
		{200 * time.Second, "", 119500 * time.Millisecond},
		{200 * time.Second, "0", 119500 * time.Millisecond},
		{3 * time.Second, "0.1", 3 * time.Second},
		{3 * time.Second, "0.5", 3 * time.Second}, // blackbox: 0 (fails at once); see probeTimeout
	} {
		got, _, err := probeTimeout(c.header, c.module)
		if err != nil || got != c.want {
			t.Errorf("module %v, header %q: %v %v, want %v", c.module, c.header, got, err, c.want)
		}
	}
	if _, _, err := probeTimeout("ten", time.Second); err == nil {
		t.Error("an unparsable header is an error")
	}
}

// TestProbeDefaultModule: probeEndpoint.defaultModule, and the answer when
// there is no default at all.
func TestProbeDefaultModule(t *testing.T) {
	s := newProbeSetup(t, endpoint+"  defaultModule: tcp\n", nil)
	if code, body := s.get(t, "target=127.0.0.1:"+s.port); code != 200 || strings.Contains(body, "probe_http_status_code") || !strings.Contains(body, "probe_success 1") {
		t.Errorf("defaultModule tcp: %d %s", code, body)
	}
	h := bareProbeHandler(t, "modules: {tcp: {tcpSocket: {}}}\nprobeEndpoint: {allowedTargets: [127.0.0.1/32]}\n")
	if code, body := probeAnswer(h, "target=127.0.0.1:80"); code != 400 || !strings.Contains(body, "probeEndpoint.defaultModule") {
		t.Errorf("no default: %d %s", code, body)
	}
	if _, err := config.Parse([]byte("modules: {tcp: {tcpSocket: {}}}\nprobeEndpoint: {allowedTargets: [127.0.0.1/32], defaultModule: http}\n"), "test.yaml"); err == nil ||
		!strings.Contains(err.Error(), `probeEndpoint.defaultModule: Invalid value: "http": no such module (modules: tcp)`) {
		t.Errorf("a defaultModule that names no module: %v", err)
	}
}

// TestProbeRedirectToAnotherPort: an entry that names a port allows that
// port only, on every hop: a same-host redirect to another port of the
// name is refused at dial time, and the server there never sees a
// connection (it did, and debug=true showed its body).
func TestProbeRedirectToAnotherPort(t *testing.T) {
	var hits sync.Map
	secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store("secret", true)
		fmt.Fprint(w, "the redis you should not see")
	}))
	defer secret.Close()
	_, secretPort, _ := net.SplitHostPort(secret.Listener.Addr().String())
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://ok.allowed.test:"+secretPort+"/", http.StatusFound)
	}))
	defer front.Close()
	_, frontPort, _ := net.SplitHostPort(front.Listener.Addr().String())
	s := newProbeSetup(t, "probeEndpoint:\n  allowedTargets: [127.0.0.1/32, \"ok.allowed.test:"+frontPort+"\"]\n", nil)
	if code, body := s.get(t, "module=http_2xx&target=ok.allowed.test:"+secretPort); code != 403 {
		t.Errorf("the other port asked directly: %d %s", code, body)
	}
	code, body := s.get(t, "module=http_2xx&target=http://ok.allowed.test:"+frontPort+"/&debug=true")
	if code != 200 || !strings.Contains(body, "dial 127.0.0.1:"+secretPort+": refused") || !strings.Contains(body, "Result: failure") || strings.Contains(body, "redis") {
		t.Errorf("%d\n%s", code, body)
	}
	if _, hit := hits.Load("secret"); hit {
		t.Error("the other port was reached through the redirect")
	}
}

// TestProbeBusyNeverBlamesTheTarget: with every slot taken, a request
// either gets a whole attempt or a 503; it never runs an attempt cut short
// by its wait and answers probe_success 0 for a target that is fine (it
// did: a request that won a slot at its deadline's edge).
func TestProbeBusyNeverBlamesTheTarget(t *testing.T) {
	s := newProbeSetup(t, endpoint+"  maxConcurrent: 2\n", nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The target answers in 0.3 s; the attempt may take 1 s.
			code, body := s.get(t, "module=delay&target=127.0.0.1:"+s.port, "X-Prometheus-Scrape-Timeout-Seconds", "1.5")
			key := strconv.Itoa(code)
			if code == 200 {
				key += map[bool]string{true: " probe_success 1", false: " probe_success 0"}[strings.Contains(body, "probe_success 1")]
			}
			mu.Lock()
			answers[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if answers["200 probe_success 0"] > 0 || answers["200 probe_success 1"] == 0 || answers["503"] == 0 {
		t.Errorf("answers %v: want successes and 503s, never a failure", answers)
	}
}
