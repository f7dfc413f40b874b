package prober

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/memtest"
)

// rawServer answers every connection with reply and records the request.
func rawServer(t *testing.T, reply string) (string, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	reqs := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				head := readHead(c)
				select {
				case reqs <- head:
				default: // a redirect loop: nobody reads them all
				}
				_, _ = c.Write([]byte(reply))
			}(c)
		}
	}()
	return "http://" + l.Addr().String(), reqs
}

// readHead reads a request's head, up to its empty line (or an error).
func readHead(c net.Conn) string {
	br := bufio.NewReader(c)
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

func TestOneShotTransport(t *testing.T) {
	t.Run("1xx responses are skipped", func(t *testing.T) {
		url, reqs := rawServer(t, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		o := httpProbe(t, url, "/x?y=1", nil, 5*time.Second)
		if o.Result != Success || o.Output != "ok" {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		req := <-reqs
		for _, want := range []string{"GET /x?y=1 HTTP/1.1\r\n", "Connection: close\r\n", "Accept: */*\r\n", "User-Agent: kube-probe/"} {
			if !strings.Contains(req, want) {
				t.Errorf("request lacks %q:\n%s", want, req)
			}
		}
		if strings.Contains(req, "Accept-Encoding") {
			t.Errorf("compression was asked for:\n%s", req)
		}
	})
	t.Run("101 is a failure", func(t *testing.T) {
		url, _ := rawServer(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Failure {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("garbage is a failure", func(t *testing.T) {
		url, _ := rawServer(t, "SSH-2.0-OpenSSH\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Failure || o.Err != nil {
			t.Fatalf("got %v %v %q", o.Result, o.Err, o.Output)
		}
	})
	t.Run("chunked body", func(t *testing.T) {
		url, _ := rawServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Success || o.Output != "ok" {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("same-host redirect from http to https is followed", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/secure" {
				w.WriteHeader(500)
			}
		}))
		defer tlsSrv.Close()
		plain := httptest.NewServer(http.RedirectHandler(tlsSrv.URL+"/secure", http.StatusFound))
		defer plain.Close()
		if o := httpProbe(t, plain.URL, "/", nil, 5*time.Second); o.Result != Success {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("cancellation interrupts a stalled response", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		release := make(chan struct{})
		served := make(chan struct{})
		defer func() { close(release); <-served }()
		go func() {
			defer close(served)
			c, err := l.Accept()
			if err == nil {
				defer c.Close()
				_, _ = c.Read(make([]byte, 1024))
				<-release // never answers while the probe waits
			}
		}()
		tgt, port := serverTarget(t, "http://"+l.Addr().String())
		p := newHTTP(httpAction(port), testEnv)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		if o := p.Probe(ctx, tgt); o.Result != Failure {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cancel took %v to take effect", d)
		}
	})
}

// TestOneShotTransportParity runs each case through net/http.Transport,
// configured as the kubelet's probe transport, and through ours: the
// outcome (error or not, and the status) must be the same.
func TestOneShotTransportParity(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	bigHeader := func(n int) string { return "X-Big: " + strings.Repeat("a", n) + "\r\n" }
	// Fields of 6 bytes up to total: a header map of a million entries
	// in net/http, the most memory 10 MiB of head can cost.
	tinyFields := func(total int, distinct bool) string {
		var b strings.Builder
		for i := 0; b.Len() < total; i++ {
			if distinct {
				fmt.Fprintf(&b, "%x:\r\n", i)
			} else {
				b.WriteString("a:b\r\n")
			}
		}
		return b.String()
	}
	manyLines := func(total int) string {
		var b strings.Builder
		for i := 0; b.Len() < total; i++ {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("b", 1000))
		}
		return b.String()
	}
	// crAt is a 100 KiB field line with a lone CR at offset i of the line.
	crAt := func(i int) string {
		line := []byte("X-Big: " + strings.Repeat("a", 100<<10))
		line[i] = '\r'
		return string(line) + "\r\n"
	}
	// Well-formed fields past the read buffer: the head is streamed.
	pad := manyLines(8 << 10)
	cases := []struct {
		name    string
		reply   string
		header  http.Header
		wantErr bool
		// quoteCut: a malformed line longer than compactHead holds; the
		// error's quote of it is the same in its first 64 KiB.
		quoteCut bool
	}{
		{name: "plain", reply: ok},
		{name: "garbage", reply: "SSH-2.0-OpenSSH\r\n", wantErr: true},
		{name: "closed without a reply", reply: "", wantErr: true},
		{name: "cut in the headers", reply: "HTTP/1.1 200 OK\r\nX-A: b", wantErr: true},
		{name: "header value with LF", reply: ok, header: http.Header{"X-Token": {"yes\n"}}, wantErr: true},
		{name: "header value with CR", reply: ok, header: http.Header{"X-Token": {"a\rb"}}, wantErr: true},
		{name: "header name with space", reply: ok, header: http.Header{"X Token": {"a"}}, wantErr: true},
		{name: "9 MiB of response headers", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(9<<20) + "Content-Length: 2\r\n\r\nok"},
		{name: "11 MiB in one response header", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(11<<20) + "Content-Length: 2\r\n\r\nok", wantErr: true},
		{name: "11 MiB over many header lines", reply: "HTTP/1.1 200 OK\r\n" + manyLines(11<<20) + "Content-Length: 2\r\n\r\nok", wantErr: true},
		{name: "10 MiB less 1 KiB of distinct tiny fields", reply: "HTTP/1.1 200 OK\r\n" + tinyFields(10<<20-1<<10, true) + "Content-Length: 2\r\n\r\nok"},
		{name: "10 MiB less 1 KiB of one repeated field", reply: "HTTP/1.1 200 OK\r\n" + tinyFields(10<<20-1<<10, false) + "Content-Length: 2\r\n\r\nok"},
		{name: "11 MiB of distinct tiny fields", reply: "HTTP/1.1 200 OK\r\n" + tinyFields(11<<20, true) + "Content-Length: 2\r\n\r\nok", wantErr: true},
		{name: "10 MiB less 1 KiB in one line", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(10<<20-1<<10) + "Content-Length: 2\r\n\r\nok"},
		// Heads larger than the read buffer go through compactHead: each
		// of its rules, with a pad of well-formed fields in front.
		{name: "large head: a line without a colon", reply: "HTTP/1.1 200 OK\r\n" + pad + "Bad line\r\n" + ok[17:], wantErr: true},
		{name: "large head: an empty name", reply: "HTTP/1.1 200 OK\r\n" + pad + ": v\r\n" + ok[17:], wantErr: true},
		{name: "large head: a space before the colon", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A : v\r\n" + ok[17:]},
		{name: "large head: a control byte in a value", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: a\x01b\r\n" + ok[17:], wantErr: true},
		{name: "large head: a lone CR in a value", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: a\rb\r\n" + ok[17:], wantErr: true},
		{name: "large head: obs-text in a value", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: caf\xc3\xa9\r\n" + ok[17:]},
		{name: "large head: LF line ends", reply: "HTTP/1.1 200 OK\n" + strings.ReplaceAll(pad, "\r\n", "\n") + "Content-Length: 2\n\nok"},
		{name: "large head: continuation lines", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: a\r\n  b\r\n\tc\r\n" + ok[17:]},
		{name: "large head: a control byte in a continuation", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: a\r\n  b\x01\r\n" + ok[17:], wantErr: true},
		{name: "large head: starts with a continuation", reply: "HTTP/1.1 200 OK\r\n  x\r\n" + pad + ok[17:], wantErr: true},
		{name: "large head: two Content-Lengths", reply: "HTTP/1.1 200 OK\r\n" + pad + "Content-Length: 3\r\n" + ok[17:], wantErr: true},
		{name: "large head: chunked with a trailer", reply: "HTTP/1.1 200 OK\r\n" + pad + "Trailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"},
		{name: "large head: a forbidden trailer", reply: "HTTP/1.1 200 OK\r\n" + pad + "Trailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", wantErr: true},
		{name: "large head: a redirect loop", reply: "HTTP/1.1 302 Found\r\n" + pad + "Location: /again\r\nContent-Length: 0\r\n\r\n", wantErr: true},
		{name: "large head: cut off", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A: b", wantErr: true},
		{name: "large head: cut off without a colon", reply: "HTTP/1.1 200 OK\r\n" + pad + "X-A", wantErr: true},
		{name: "long field, continued", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(1<<20) + "  more\r\n" + ok[17:]},
		{name: "long field, a fault in its continuation", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(1<<20) + "  more\x01\r\n" + ok[17:], wantErr: true, quoteCut: true},
		// A lone CR at the end of a 4 KiB read chunk (line offset 81919),
		// in the streamed part and in the held prefix (offset 61439).
		{name: "long field, a lone CR at a chunk's end", reply: "HTTP/1.1 200 OK\r\n" + crAt(81919) + ok[17:], wantErr: true, quoteCut: true},
		{name: "long field, a lone CR at a chunk's end, held", reply: "HTTP/1.1 200 OK\r\n" + crAt(61439) + ok[17:], wantErr: true, quoteCut: true},
		{name: "long field, CRLF split by a chunk's end", reply: "HTTP/1.1 200 OK\r\n" + crAt(81919)[:81919] + "\r\n" + ok[17:]},
		{name: "long field, a fault far into it", reply: "HTTP/1.1 200 OK\r\n" + bigHeader(1<<20) + "\x01\r\n" + ok[17:], wantErr: true, quoteCut: true},
		{name: "six 103s then 200", reply: strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 6) + ok},
		{name: "fifty 100s then 200", reply: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 50) + ok},
		{name: "1xx headers and the final response share the limit",
			reply: "HTTP/1.1 103 Early Hints\r\n" + bigHeader(6<<20) + "\r\nHTTP/1.1 200 OK\r\n" + bigHeader(6<<20) + "Content-Length: 2\r\n\r\nok", wantErr: true},
	}
	std := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	defer std.CloseIdleConnections()
	ours := &oneShotTransport{dialer: &net.Dialer{}, tls: std}
	do := func(rt http.RoundTripper, url string, h http.Header) (int, error) {
		req, err := http.NewRequest(http.MethodGet, url+"/", nil)
		if err != nil {
			return 0, err
		}
		for k, vv := range h {
			req.Header[k] = vv
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := (&http.Client{Transport: rt}).Do(req.WithContext(ctx))
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, err = io.ReadAll(res.Body)
		return res.StatusCode, err
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, reqs := rawServer(t, c.reply)
			stdCode, stdErr := do(std, url, c.header)
			ourCode, ourErr := do(ours, url, c.header)
			if (stdErr != nil) != c.wantErr {
				t.Fatalf("net/http: code %d, err %v; the case expects error=%v", stdCode, stdErr, c.wantErr)
			}
			if (ourErr != nil) != (stdErr != nil) || ourCode != stdCode {
				t.Fatalf("ours: code %d err %v; net/http: code %d err %v", ourCode, ourErr, stdCode, stdErr)
			}
			if c.quoteCut && stdErr != nil {
				a, b := stdErr.Error(), ourErr.Error()
				if a[:min(len(a), 64<<10)] != b[:min(len(b), 64<<10)] {
					t.Errorf("errors differ in their first 64 KiB: net/http %.300q, ours %.300q", a, b)
				}
			} else if stdErr != nil && !sameText(stdErr, ourErr) {
				t.Errorf("errors differ: net/http %q, ours %q", stdErr, ourErr)
			}
			if c.header != nil && c.wantErr {
				// Nothing may have been sent for an invalid header.
				select {
				case r := <-reqs:
					t.Errorf("a request was sent:\n%s", r)
				default:
				}
			}
		})
	}
}

// sameText compares what the errors say past client.Do's "Get <url>:"
// prefix: that text is the probe's output.
func sameText(a, b error) bool {
	var ua, ub *url.Error
	if !errors.As(a, &ua) || !errors.As(b, &ub) {
		return a.Error() == b.Error()
	}
	return ua.Err.Error() == ub.Err.Error()
}

// TestOneShotTransportTraceParity: an httptrace.ClientTrace hears the
// same events, in the same order, from our transport as from net/http's,
// for the hooks /probe times its phases with.
func TestOneShotTransportTraceParity(t *testing.T) {
	std := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	defer std.CloseIdleConnections()
	ours := &oneShotTransport{dialer: &net.Dialer{}, tls: std}
	events := func(rt http.RoundTripper, url string) []string {
		var mu sync.Mutex
		var got []string
		add := func(e string) { mu.Lock(); got = append(got, e); mu.Unlock() }
		trace := &httptrace.ClientTrace{
			ConnectStart:         func(string, string) { add("ConnectStart") },
			ConnectDone:          func(string, string, error) { add("ConnectDone") },
			WroteRequest:         func(httptrace.WroteRequestInfo) { add("WroteRequest") },
			GotFirstResponseByte: func() { add("GotFirstResponseByte") },
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url+"/", nil)
		res, err := (&http.Client{Transport: rt}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(res.Body)
		res.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	url, _ := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	a := events(std, url)
	url, _ = rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	b := events(ours, url)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("net/http: %v; ours: %v", a, b)
	}
}

// TestEndlessEarlyHints: a server that answers an endless stream of
// 103 Early Hints costs one attempt a bounded heap (it held 350–570 MB:
// every 1xx head that crossed the read buffer wrapped the reader in a
// new one), and ends as net/http's Transport ends it, at the header
// limit, with its words.
func TestEndlessEarlyHints(t *testing.T) {
	url := "http://" + faults.EndlessEarlyHints(t) + "/"
	do := func(rt http.RoundTripper) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := (&http.Client{Transport: rt}).Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	std := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	defer std.CloseIdleConnections()
	want := do(std)
	var got error
	peak := memtest.PeakHeap(func() { got = do(&oneShotTransport{dialer: &net.Dialer{}, tls: std}) })
	if want == nil || got == nil || got.Error() != want.Error() {
		t.Errorf("ours: %v\nnet/http: %v", got, want)
	}
	if peak > 32<<20 {
		t.Errorf("one attempt held %d MiB of heap", peak>>20)
	}
	t.Logf("peak heap %.1f MiB", float64(peak)/(1<<20))
}

// TestPooledBuffersAreNeverShared: an exchange's buffers go back to the
// pool with its body, so a body read after Close is refused (as net/http
// refuses it) rather than served from a buffer another attempt now fills,
// and exchanges after it read their own responses whole.
func TestPooledBuffersAreNeverShared(t *testing.T) {
	first, _ := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
	second, _ := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
	tr := &oneShotTransport{dialer: NewDialer()}
	get := func(u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := get(first)
	res.Body.Close()
	for i := 0; i < 3; i++ {
		other := get(second)
		body, err := io.ReadAll(other.Body)
		other.Body.Close()
		if err != nil || string(body) != "second" {
			t.Fatalf("exchange %d after a closed one: %q %v", i, body, err)
		}
	}
	if n, err := res.Body.Read(make([]byte, 8)); n != 0 || err == nil || err.Error() != "http: read on closed response body" {
		t.Errorf("a read after Close: %d %v, want net/http's refusal", n, err)
	}
	if err := res.Body.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
