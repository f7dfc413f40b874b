package prober

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// oneShotTransport makes one HTTP/1.1 exchange per connection for
// cleartext http: dial, write the request, read the response, close when
// the body is closed. With keep-alives off that is all net/http.Transport
// does too, but it spends a dial goroutine, a read loop and a write loop
// per connection on it; this is most of the CPU of a probe. Redirects,
// Referer and Host-header rules stay with http.Client on top, so they
// are exactly the kubelet's. https goes to the standard transport (TLS,
// HTTP/2 through ALPN).
type oneShotTransport struct {
	dialer Dialer
	tls    http.RoundTripper
}

// maxResponseHeaderBytes is net/http.Transport's default
// MaxResponseHeaderBytes: every header byte of a response, its 1xx
// responses included, counts against it.
const maxResponseHeaderBytes = 10 << 20

// readBufferSize is net/http.Transport's default read buffer: the limit
// counts what the buffer has read from the connection, as the
// transport's does, so the same response passes or fails both.
const readBufferSize = 4 << 10

func (t *oneShotTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.tls.RoundTrip(req)
	}
	// net/http.Transport's validateHeaders: a value with CR or LF (what a
	// YAML block scalar gives) fails the request before anything is sent;
	// Request.Write alone would quietly turn the newline into a space.
	if err := validateHeaders(req.Header); err != "" {
		return nil, fmt.Errorf("net/http: invalid header %s", err)
	}
	ctx := req.Context()
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	// Cancellation (not only the deadline) interrupts a blocked read.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, err
	}

	// An httptrace.ClientTrace (/probe's phases) hears what net/http's
	// Transport would tell it: net.Dialer tells it of the connect,
	// Request.Write of the request written, we of the first byte.
	trace := httptrace.ContextClientTrace(ctx)
	out := *req
	out.Close = true // Connection: close, as DisableKeepAlives sends
	if err := out.Write(conn); err != nil {
		return fail(err)
	}
	lr := &limitedConn{Conn: conn, limit: maxResponseHeaderBytes}
	src := &replayReader{r: lr}
	br := bufio.NewReaderSize(src, readBufferSize)
	// Errors are worded as net/http's read loop words them: they are the
	// probe's output, and the kubelet's events show net/http's text.
	// (Nothing read at all: the bare error, as Transport.roundTrip
	// unwraps it.)
	if _, err := br.Peek(1); err != nil {
		return fail(err)
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	var res *http.Response
	for {
		if !headInBuffer(br) {
			// A large head: parse it without holding fields nothing reads
			// (see compactHead), from the same reader and buffer.
			src.compact(br)
		}
		res, err = http.ReadResponse(br, req)
		if err != nil {
			if lr.limit <= 0 {
				err = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxResponseHeaderBytes)
			}
			return fail(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err))
		}
		// 1xx responses other than 101 are skipped; with no trace hook
		// looking at them, net/http bounds them only by the header limit,
		// which they share with the final response.
		if res.StatusCode < 100 || res.StatusCode > 199 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	lr.limit = math.MaxInt64 // bodies have their own cap
	res.Body = &oneShotBody{ReadCloser: res.Body, conn: conn, stop: stop}
	return res, nil
}

// limitedConn is net/http's persistConn read limit: reads fail once limit
// bytes have been read.
type limitedConn struct {
	net.Conn
	limit int64
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, fmt.Errorf("read limit of %d bytes exhausted", maxResponseHeaderBytes)
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.Conn.Read(p)
	c.limit -= int64(n)
	return n, err
}

// validateHeaders is net/http's: the name of the first invalid header
// field, never its value (it may be a secret), or "".
func validateHeaders(h http.Header) string {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Sprintf("field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Sprintf("field value for %q", k)
			}
		}
	}
	return ""
}

// oneShotBody closes the connection with the body.
type oneShotBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
	once sync.Once
}

func (b *oneShotBody) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
	})
	return nil
}
