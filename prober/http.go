package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

type httpProber struct {
	// url is the kubelet's formatURL of the path, parsed once; each attempt
	// copies it and sets the host. urlErr is NewRequest's error for a path
	// that does not survive that: every attempt errors, as in the kubelet.
	url    url.URL
	urlErr error
	// noHost is set when the kubelet's request has no host (a path with a
	// scheme-like prefix, "status:ok", leaves an opaque URL "http:ok"):
	// net/http refuses to send it, and every attempt fails so.
	noHost error
	host   string
	port   probe.IntOrString
	header http.Header
	// request is every attempt's request but its URL and context: the
	// header, and the Host line, which overrides the Host line only (dial
	// target and SNI still come from the URL, as in the kubelet).
	request *http.Request
	client  *http.Client
	// first, when set, sends the first request without the client (see
	// do), its head rendered from head.
	first  *oneShotTransport
	head   requestHead
	redact redactor
}

func newHTTP(a *probe.HTTPGetAction, env *Env) *httpProber {
	h := make(http.Header, len(a.HTTPHeaders)+2)
	for _, hd := range a.HTTPHeaders {
		h.Add(hd.Name, hd.Value) // canonicalises names; repeats accumulate
	}
	// The kubelet decides on presence of the key: an empty value means
	// "send none" for User-Agent, and deletes Accept.
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", env.userAgent)
	}
	if _, ok := h["Accept"]; !ok {
		h.Set("Accept", "*/*")
	} else if h.Get("Accept") == "" {
		h.Del("Accept")
	}
	u, err := requestURL(strings.ToLower(a.Scheme), a.Path)
	var noHost error
	if err == nil && u.Opaque != "" {
		noHost = &url.Error{Op: "Get", URL: u.String(), Err: errors.New("http: no Host in request URL")}
	}
	p := &httpProber{
		url:    u,
		urlErr: err,
		noHost: noHost,
		host:   a.Host,
		port:   a.Port,
		header: h,
		request: &http.Request{
			Method:     http.MethodGet,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     h,
			Host:       h.Get("Host"),
		},
		redact: httpRedactor(a.HTTPHeaders, a.Path),
		client: &http.Client{Transport: env.transport, CheckRedirect: checkRedirect},
	}
	// A URL with user info makes the client add an Authorization header
	// to the first request: that one goes through the client.
	if t, ok := env.transport.(*oneShotTransport); ok && err == nil && noHost == nil && u.Scheme == "http" && u.User == nil {
		p.first = t
		p.head = newRequestHead(p.request, u)
	}
	return p
}

// do is p.client.Do(req). A cleartext first request goes to the one-shot
// transport directly: for it the client only checks what a prober's
// request always passes, and wraps a transport error in a *url.Error.
// When the answer is a redirect the client would follow, the client
// takes over from there, handed that answer as its first request's
// (replayFirst), so every redirect rule stays the client's own:
// Location, Referer, headers, Host, CheckRedirect.
func (p *httpProber) do(req *http.Request) (*http.Response, error) {
	if p.first == nil {
		return p.client.Do(req)
	}
	res, err := p.first.roundTrip(req, &p.head)
	if err != nil {
		return nil, &url.Error{Op: "Get", URL: req.URL.String(), Err: err}
	}
	switch res.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		c := *p.client
		c.Transport = &replayFirst{res: res, next: p.client.Transport}
		return c.Do(req)
	}
	return res, nil
}

// replayFirst answers the client's first request with a response already
// received for it, and sends the rest on.
type replayFirst struct {
	res  *http.Response
	next http.RoundTripper
}

func (r *replayFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if res := r.res; res != nil {
		r.res = nil
		return res, nil
	}
	return r.next.RoundTrip(req)
}

// checkRedirect is the kubelet's RedirectChecker(false): follow redirects to
// the same hostname (any port or scheme), up to 10; otherwise stop and let
// the 3xx itself be evaluated.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errRedirectLimit
	}
	return nil
}

func (p *httpProber) Type() Type { return HTTPGet }

// A cleartext request waits only on its connection (see oneShotTransport);
// a redirect to https gets an exact deadline of its own there.
func (p *httpProber) socketBound() bool {
	_, oneShot := p.client.Transport.(*oneShotTransport)
	return oneShot && p.url.Scheme == "http"
}

func (p *httpProber) Address(t *Target) string {
	a, _ := hostPort(p.host, p.port, t)
	return a
}

// formatURL is the kubelet's formatURL: the path is parsed for its query,
// and scheme and host are always ours.
func formatURL(scheme, hostport, path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = hostport
	u.Fragment = ""
	u.RawFragment = ""
	return u
}

// requestURL is the URL the kubelet's request carries: it builds the
// request from formatURL(...).String(), and parsing that again is what
// turns "healthz" into "/healthz". The host is set per attempt; a
// placeholder stands in for it here. A path that parses with a scheme of
// its own and no slash ("status:ok") is opaque: String() then drops the
// host ("http:ok"), and so does the kubelet's request; the URL returned
// keeps its Opaque, and has no host.
func requestURL(scheme, path string) (url.URL, error) {
	u, err := url.Parse(formatURL(scheme, "host.invalid", path).String())
	if err != nil {
		return url.URL{}, fmt.Errorf("building the request for path %q: %w", path, err)
	}
	u.Host = ""
	return *u, nil
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, maxReadLength); return &b }}

func (p *httpProber) Probe(ctx context.Context, t *Target) Outcome {
	if f := factsFrom(ctx); f != nil {
		return p.probeWithFacts(ctx, t, f)
	}
	var hf httpFacts
	return p.attempt(ctx, t, &hf)
}

// attempt is one request, the kubelet's way; what the response's head
// says beyond the status goes to hf.
func (p *httpProber) attempt(ctx context.Context, t *Target, hf *httpFacts) Outcome {
	if p.urlErr != nil {
		return Outcome{Result: Unknown, Err: errors.New(p.redact.text(p.urlErr.Error())), Reason: Other}
	}
	addr, err := hostPort(p.host, p.port, t)
	if err != nil {
		return Outcome{Result: Unknown, Err: err, Reason: Other}
	}
	if p.noHost != nil {
		// client.Do's error, before any connection: a failure, as in the
		// kubelet (a server answering anything must not make it a success).
		return Outcome{Result: Failure, Output: p.redact.error(p.noHost), Reason: Other}
	}
	u := p.url
	u.Host = addr
	if t.Via != "" {
		// The request is the virtual host's; the connection goes to Via.
		// On the scheme's own port the Host header is the name alone, as
		// browsers send it: a route matches its hostname, and proxies that
		// match host:port literally (Envoy) would not find it.
		if h, port, err := net.SplitHostPort(addr); err == nil {
			ctx = WithPinnedHost(ctx, h, t.Via)
			if (p.url.Scheme == "http" && port == "80") || (p.url.Scheme == "https" && port == "443") {
				u.Host = h
			}
		}
	}
	// One copy of the prober's request: net/http never writes to a
	// caller's request or its header (it forks them first), so every
	// attempt shares the header.
	var hs *handshakeWatch
	if p.url.Scheme == "https" {
		// HTTPS: whether the deadline came while connecting, and which
		// errors ended the TLS handshake, the standard transport tells
		// only a trace (it returns the context's error, and an EOF or a
		// reset has no TLS type).
		hs = &handshakeWatch{}
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			ConnectStart: hs.connectStart, ConnectDone: hs.connectDone, TLSHandshakeDone: hs.done})
	}
	req := p.request.WithContext(withAttempt(ctx))
	req.URL = &u
	res, err := p.do(req)
	if err != nil {
		o := Outcome{Result: Failure, Output: p.redact.error(timedOut(ctx, err, errHeadTimeout)), Reason: hs.classify(err)}
		if res != nil {
			// A redirect refused (the 10th): net/http returns the last
			// response, its body closed, with the error; /probe reports
			// what it said, as blackbox_exporter does.
			describe(&o, hf, res)
		}
		return o
	}
	defer res.Body.Close()
	var o Outcome
	describe(&o, hf, res) // the head was read, whatever the body does

	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	n, err := readAtMost(res.Body, *bp)
	if err != nil {
		// A body that breaks (or times out) mid-read is an error, not a
		// failure: the kubelet retries and then discards it.
		o.Result, o.Err = Failure, fmt.Errorf("reading response body: %w", timedOut(ctx, err, errBodyTimeout))
		o.Reason = classifyErr(err, false)
		if o.Reason == Other {
			o.Reason = HTTPMalformed // net/http's framing errors have no type
		}
		return o
	}
	switch code := res.StatusCode; {
	case code >= http.StatusOK && code < http.StatusMultipleChoices:
		o.Result, o.Output = Success, p.redact.text(string((*bp)[:n]))
	case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
		o.Result, o.Output = Warning, "Probe terminated redirects, Response body: "+p.redact.text(string((*bp)[:n]))
	default:
		// The body is deliberately left out (kubernetes#99425).
		o.Result, o.Output = Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code)
		o.Reason = HTTPStatus
	}
	return o
}

// What net/http says when an http.Client's Timeout (the kubelet sets it to
// the probe's timeoutSeconds) ends a request: before the response head,
// and while its body is read.
var (
	errHeadTimeout = errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
	errBodyTimeout = errors.New("context deadline exceeded (Client.Timeout or context cancellation while reading body)")
)

// timedOut words err as the kubelet's client does when the attempt's
// deadline is what ended it. The attempt's timeout is its context's
// deadline, not Client.Timeout (one client serves every timeout), and
// what ended a request then depends on which fired first — the context
// or the connection's deadline set from it: "context deadline exceeded"
// one time, "read tcp …: i/o timeout" another, for the same slow server.
func timedOut(ctx context.Context, err, as error) error {
	// The connection's deadline is the context's: its error can come
	// before the context's timer has marked it done.
	dl, ok := ctx.Deadline()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) && (!ok || time.Now().Before(dl)) {
		return err
	}
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: ue.URL, Err: as}
	}
	return as
}

// handshakeWatch hears from an HTTPS attempt's trace whether its connect
// completed and whether a TLS handshake failed.
type handshakeWatch struct {
	// connected: the last connect started has completed. (A connect cut
	// off by the deadline may report its end after the attempt has.)
	connected atomic.Bool
	failed    atomic.Bool
}

func (h *handshakeWatch) connectStart(string, string) { h.connected.Store(false) }
func (h *handshakeWatch) connectDone(_, _ string, err error) {
	if err == nil {
		h.connected.Store(true)
	}
}

func (h *handshakeWatch) done(_ tls.ConnectionState, err error) {
	if err != nil {
		h.failed.Store(true)
	}
}

// classify is classifyErr for an HTTPS attempt's error (h set) or a
// cleartext one. Over TLS, an error that is no network error, timeout or
// TLS error came from reading the answer as HTTP: net/http's parse errors
// have no type.
func (h *handshakeWatch) classify(err error) Reason {
	if h == nil {
		return classifyErr(err, false)
	}
	r := classifyErr(err, h.failed.Load())
	if r == Timeout && !h.connected.Load() {
		return ConnectionTimeout
	}
	var op *net.OpError
	if r == Other && !(errors.As(err, &op) && op.Op == "dial") {
		return HTTPMalformed
	}
	return r
}

// readAtMost fills buf from r and stops there: reaching the cap is not an
// error (the kubelet truncates); any read error but a clean EOF is. (A body
// cut short arrives as io.ErrUnexpectedEOF from net/http, so no ReadFull.)
func readAtMost(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
