package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/probe"
)

// serverTarget splits an httptest server's URL into a probe target and port.
func serverTarget(t *testing.T, rawURL string) (*Target, probe.IntOrString) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return &Target{Host: u.Hostname()}, probe.IntOrString{IntVal: int32(port)}
}

func httpProbe(t *testing.T, srvURL, path string, headers map[string]string, timeout time.Duration) Outcome {
	t.Helper()
	tgt, port := serverTarget(t, srvURL)
	a := &probe.HTTPGetAction{Path: path, Port: port, Scheme: "HTTP"}
	if strings.HasPrefix(srvURL, "https") {
		a.Scheme = "HTTPS"
	}
	for k, v := range headers {
		a.HTTPHeaders = append(a.HTTPHeaders, probe.HTTPHeader{Name: k, Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return newHTTP(a, testEnv).Probe(ctx, tgt)
}

// TestHTTPConformance runs the kubelet's http_test.go vectors (semantics
// doc §8.1) against real loopback servers.
func TestHTTPConformance(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok body") })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "new") })
	mux.HandleFunc("/new500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), mustAtoi(r.URL.Query().Get("code")))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/success", func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "www.fail.com" {
			w.WriteHeader(500)
		}
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.Header {
			w.Header()[k] = v
		}
		_, hasUA := r.Header["User-Agent"]
		_, hasAccept := r.Header["Accept"]
		fmt.Fprintf(w, "host=%s ua=%v:%q accept=%v:%q proto=%d", r.Host, hasUA, r.UserAgent(), hasAccept, r.Header.Get("Accept"), r.ProtoMajor)
	})
	mux.HandleFunc("/size/", func(w http.ResponseWriter, r *http.Request) {
		n := mustAtoi(strings.TrimPrefix(r.URL.Path, "/size/"))
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	other := httptest.NewServer(mux) // same host, another port
	defer other.Close()

	redirect := func(to string, code int) string {
		return "/redirect?" + url.Values{"to": {to}, "code": {strconv.Itoa(code)}}.Encode()
	}
	type tc struct {
		name    string
		path    string
		headers map[string]string
		timeout time.Duration
		want    Result
		output  string // substring of Output
	}
	cases := []tc{
		{name: "H1 200", path: "/ok", want: Success, output: "ok body"},
		{name: "H2 500", path: "/500", want: Failure, output: "HTTP probe failed with statuscode: 500"},
		{name: "H3 timeout", path: "/slow", timeout: 200 * time.Millisecond, want: Failure},
		{name: "H4 broken connection", path: "/broken", want: Failure},
		{name: "H17 non-local redirect is a warning", path: redirect("http://0.0.0.0/fail", 302), want: Warning, output: "Probe terminated redirects"},
		{name: "H18 redirect loop", path: "/loop", want: Failure, output: "stopped after 10 redirects"},
		{name: "H14 same-host redirect to success", path: redirect("/success", 302), want: Success},
		{name: "H15 same-host redirect to fail", path: redirect("/fail", 302), want: Failure},
		{name: "H16 other port success", path: redirect(other.URL+"/success", 302), want: Success},
		{name: "H16 other port fail", path: redirect(other.URL+"/fail", 302), want: Failure},
		{name: "H19 Host kept across relative redirect", path: redirect("/success", 302), headers: map[string]string{"Host": "www.success.com"}, want: Success},
		{name: "H20 Host kept across relative redirect (fail)", path: redirect("/success", 302), headers: map[string]string{"Host": "www.fail.com"}, want: Failure},
		{name: "H22 body under the cap", path: "/size/10239", want: Success},
		{name: "1xx/4xx fail", path: "/nope", want: Failure, output: "statuscode: 404"},
		{name: "304 without Location is a warning", path: redirect("", 304), want: Warning},
	}
	for _, code := range []int{301, 302, 307, 308} {
		cases = append(cases,
			tc{name: fmt.Sprintf("H5 %d to 200", code), path: redirect("/new", code), want: Success, output: "new"},
			tc{name: fmt.Sprintf("H6 %d to 500", code), path: redirect("/new500", code), want: Failure})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timeout := c.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			o := httpProbe(t, srv.URL, c.path, c.headers, timeout)
			if o.Result != c.want || o.Err != nil {
				t.Fatalf("got %v (err %v, output %q), want %v", o.Result, o.Err, o.Output, c.want)
			}
			if !strings.Contains(o.Output, c.output) {
				t.Errorf("output %q does not contain %q", o.Output, c.output)
			}
		})
	}

	t.Run("H21 body over the cap is truncated, not an error", func(t *testing.T) {
		o := httpProbe(t, srv.URL, "/size/10241", nil, 5*time.Second)
		if o.Result != Success || o.Err != nil || len(o.Output) != 10240 {
			t.Fatalf("got %v err=%v len=%d", o.Result, o.Err, len(o.Output))
		}
	})

	headerCases := []struct {
		name    string
		headers map[string]string
		want    []string
	}{
		{"H7 defaults", nil, []string{`ua=true:"` + testEnv.UserAgent() + `"`, `accept=true:"*/*"`}},
		{"H8 custom User-Agent", map[string]string{"User-Agent": "foo/1.0"}, []string{`ua=true:"foo/1.0"`}},
		{"H9 empty User-Agent sends none", map[string]string{"User-Agent": ""}, []string{`ua=false:""`}},
		{"H10 custom Accept", map[string]string{"Accept": "foo/*"}, []string{`accept=true:"foo/*"`}},
		{"H11 empty Accept sends none", map[string]string{"Accept": ""}, []string{`accept=false:""`}},
		{"H13 Host override", map[string]string{"Host": "muffins.cupcakes.org"}, []string{"host=muffins.cupcakes.org"}},
		{"cleartext is HTTP/1.1", nil, []string{"proto=1"}},
	}
	for _, c := range headerCases {
		t.Run(c.name, func(t *testing.T) {
			o := httpProbe(t, srv.URL, "/echo", c.headers, 5*time.Second)
			for _, w := range c.want {
				if !strings.Contains(o.Output, w) {
					t.Errorf("output %q lacks %q", o.Output, w)
				}
			}
		})
	}
	if ua := NewEnv(EnvOptions{Version: "1.2.3"}).UserAgent(); ua != "kube-probe/1.36 probe-exporter/1.2.3" {
		t.Errorf("User-Agent %q must keep the kube-probe/ prefix and carry the version", ua)
	}
}

func TestHTTPHeaderEcho(t *testing.T) {
	// H12: a custom header reaches the server unchanged.
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("X-Muffins-Or-Cupcakes")
	}))
	defer srv.Close()
	o := httpProbe(t, srv.URL, "/", map[string]string{"X-Muffins-Or-Cupcakes": "muffins"}, 5*time.Second)
	if o.Result != Success || got != "muffins" {
		t.Fatalf("result %v, header %q", o.Result, got)
	}
}

func TestHTTPS(t *testing.T) {
	// A self-signed certificate is accepted (no verification) and HTTP/2 is
	// negotiated through ALPN.
	var proto int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto = r.ProtoMajor
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	o := httpProbe(t, srv.URL, "/", nil, 5*time.Second)
	if o.Result != Success {
		t.Fatalf("got %v %q", o.Result, o.Output)
	}
	if proto != 2 {
		t.Errorf("HTTPS should negotiate HTTP/2, server saw HTTP/%d", proto)
	}
}

func TestHTTPBodyErrorIsDiscardable(t *testing.T) {
	// A body that breaks mid-read is an error (retried, then discarded), not
	// a failure; so is a body still arriving at the deadline.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("only ten.."))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/stall":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	for _, path := range []string{"/short", "/stall"} {
		o := httpProbe(t, srv.URL, path, nil, 300*time.Millisecond)
		if o.Err == nil {
			t.Errorf("%s: want an error, got %v %q", path, o.Result, o.Output)
		}
		if o.StatusCode != 200 {
			t.Errorf("%s: status code %d", path, o.StatusCode)
		}
	}
	// Run retries an erroring attempt MaxRetries times in all.
	tgt, port := serverTarget(t, srv.URL)
	p := newHTTP(&probe.HTTPGetAction{Path: "/short", Port: port, Scheme: "HTTP"}, testEnv)
	attempts := 0
	o := Run(context.Background(), p, tgt, time.Second, time.Now, func(Outcome, time.Duration) { attempts++ })
	if attempts != MaxRetries || o.Err == nil {
		t.Errorf("attempts %d, err %v", attempts, o.Err)
	}
	// A failure is never retried.
	p = newHTTP(&probe.HTTPGetAction{Path: "/missing", Port: port, Scheme: "HTTP"}, testEnv)
	attempts = 0
	Run(context.Background(), p, tgt, time.Second, time.Now, func(Outcome, time.Duration) { attempts++ })
	if attempts != 1 {
		t.Errorf("a failure was retried: %d attempts", attempts)
	}
}

func TestHTTPNeverUsesProxy(t *testing.T) {
	// H23: HTTP_PROXY is ignored. Go never proxies loopback addresses, so
	// the behaviour can't be shown on loopback; the transport must have no
	// proxy function at all.
	var proxied bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied = true }))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	if testEnv.transport.(*oneShotTransport).tls.(*http.Transport).Proxy != nil {
		t.Fatal("the probe transport has a proxy function")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if o := httpProbe(t, srv.URL, "/", nil, 5*time.Second); o.Result != Success || proxied {
		t.Fatalf("result %v, proxied %v", o.Result, proxied)
	}
}

func TestHTTPKeepAlivesOff(t *testing.T) {
	conns := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns[c.RemoteAddr().String()] = true
		}
	}
	srv.Start()
	defer srv.Close()
	for i := 0; i < 3; i++ {
		if o := httpProbe(t, srv.URL, "/", nil, 5*time.Second); o.Result != Success {
			t.Fatal(o.Output)
		}
	}
	if len(conns) != 3 {
		t.Errorf("want a new connection per probe, saw %d connections for 3 probes", len(conns))
	}
}

func TestFormatURL(t *testing.T) {
	for _, c := range []struct{ scheme, path, want string }{
		{"http", "", "http://localhost:93"},
		{"https", "/path", "https://localhost:93/path"},
		{"http", "?foo", "http://localhost:93?foo"},
		{"https", "/path?bar", "https://localhost:93/path?bar"},
		{"http", "//foo/bar", "http://localhost:93/bar"},
		{"http", "healthz", "http://localhost:93/healthz"},
		{"http", "/a#frag", "http://localhost:93/a"},
		{"http", "http://evil:1/x?q=1", "http://localhost:93/x?q=1"},
	} {
		u := formatURL(c.scheme, "localhost:93", c.path)
		got := u.String()
		if c.path == "healthz" && u.Path == "healthz" {
			// Go writes a rootless path with a host as "/healthz".
			got = "http://localhost:93/healthz"
		}
		if got != c.want {
			t.Errorf("formatURL(%s, %q) = %q, want %q", c.scheme, c.path, got, c.want)
		}
	}
	if u := formatURL("http", net.JoinHostPort("::1", "80"), "/"); u.String() != "http://[::1]:80/" {
		t.Errorf("IPv6 host not bracketed: %s", u)
	}
}

func TestHeaderCanonicalisation(t *testing.T) {
	p := newHTTP(&probe.HTTPGetAction{HTTPHeaders: []probe.HTTPHeader{
		{Name: "accept", Value: "application/json"}, {Name: "Accept", Value: "*/*"},
		{Name: "pragma", Value: "no-cache"}, {Name: "X-forwarded-for", Value: "username"},
		{Name: "HOST", Value: "example.com"}, {Name: "FOO-bAR", Value: "value"},
	}}, testEnv)
	want := map[string]string{
		"Accept": "application/json,*/*", "Pragma": "no-cache", "X-Forwarded-For": "username",
		"Host": "example.com", "Foo-Bar": "value",
	}
	for k, v := range want {
		if got := strings.Join(p.header[k], ","); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if p.request.Host != "example.com" {
		t.Errorf("host override %q", p.request.Host)
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func httpAction(port probe.IntOrString) *probe.HTTPGetAction {
	return &probe.HTTPGetAction{Path: "/", Port: port, Scheme: "HTTP"}
}

// TestHTTPRequestLine: the kubelet builds the request from url.String(), so
// a path without a leading slash is sent with one, and a bare query gets
// "/" as its path.
func TestHTTPRequestLine(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.RequestURI)
	}))
	defer srv.Close()
	for _, path := range []string{"healthz", "?foo=1", "", "/a/b?c=d#frag", "/with%20space"} {
		if o := httpProbe(t, srv.URL, path, nil, 5*time.Second); o.Result != Success {
			t.Fatalf("%q: %v %q", path, o.Result, o.Output)
		}
	}
	want := []string{"/healthz", "/?foo=1", "/", "/a/b?c=d", "/with%20space"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("request URIs %q, want %q", got, want)
	}
}

// kubeletRequest builds a probe request exactly as the kubelet's
// pkg/probe/http/request.go does (formatURL, then http.NewRequest of its
// String()), for comparing ours with net/http on the same path.
func kubeletRequest(scheme, hostport, path string) (*http.Request, error) {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = hostport
	return http.NewRequest(http.MethodGet, u.String(), nil)
}

// TestRequestThroughNetHTTP sends each path the kubelet's way (its request
// built as the kubelet builds it, sent by a plain net/http client) and
// ours, to a server that answers 200 to anything: the same verdict, the
// same request line, the same error.
func TestRequestThroughNetHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.RequestURI)
		mu.Unlock()
	}))
	defer srv.Close()
	take := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(seen, " ")
		seen = nil
		return s
	}
	hostport := strings.TrimPrefix(srv.URL, "http://")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	for _, path := range []string{
		"/healthz", "healthz", "", "?a=1", "//other/x", "http://evil:1/x",
		"status:ok", "a:b/c", "mailto:ops", "x:/y", "/a:b", "./a:b", "/%zz", "%zz", "/a b", "#frag",
	} {
		// The kubelet's way.
		var want Result
		var wantOut, wantLine string
		req, err := kubeletRequest("http", hostport, path)
		if err != nil {
			want = Unknown
		} else if res, err := client.Do(req); err != nil {
			want, wantOut = Failure, err.Error()
		} else {
			res.Body.Close()
			want = Success
		}
		wantLine = take()
		// Ours.
		o := httpProbe(t, srv.URL, path, nil, 5*time.Second)
		gotLine := take()
		if o.Result != want || gotLine != wantLine || (want == Failure && o.Output != wantOut) {
			t.Errorf("path %q: ours %v %q (request %q); the kubelet's %v %q (request %q)", path, o.Result, o.Output, gotLine, want, wantOut, wantLine)
		}
	}
}

// TestTimeoutWordedAsKubelet: a probe ended by its timeout says what the
// kubelet's client says (http.Client with Timeout set to the probe's
// timeoutSeconds), every time: before the head, while the body arrives,
// and in a TLS handshake that never ends. Ours timed out through the
// context or the connection's deadline, whichever fired first: "context
// deadline exceeded" one time, "read tcp …: i/o timeout" another.
func TestTimeoutWordedAsKubelet(t *testing.T) {
	const timeout = 150 * time.Millisecond
	kubelet := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer kubelet.CloseIdleConnections()
	for _, c := range []struct {
		name, scheme, addr string
	}{
		{"no answer", "http", faults.Stall(t)},
		{"a header byte every 100 ms", "http", faults.SlowHeaders(t)},
		{"a body byte every 100 ms", "http", faults.SlowBody(t)},
		{"a TLS handshake that never ends", "https", faults.Stall(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			srvURL := c.scheme + "://" + c.addr
			var want string
			res, err := kubelet.Get(srvURL + "/healthz")
			if err == nil {
				_, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if err == nil {
				t.Fatal("the kubelet's client did not time out")
			}
			want = err.Error()
			for range 5 {
				o := httpProbe(t, srvURL, "/healthz", nil, timeout)
				got := o.Output
				if o.Err != nil {
					got = strings.TrimPrefix(o.Err.Error(), "reading response body: ")
				}
				if got != want {
					t.Fatalf("ours: %q\nthe kubelet's: %q", got, want)
				}
			}
		})
	}
}
