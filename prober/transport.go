package prober

import (
	"bufio"
	"context"
	"errors"
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
	return t.roundTrip(req, nil)
}

// roundTrip is RoundTrip writing the request from head where head can
// render it (see requestHead); a nil head always renders it anew.
func (t *oneShotTransport) roundTrip(req *http.Request, head *requestHead) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.roundTripTLS(req)
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
	// On the attempt clock, Done closing at the deadline is what ends a
	// blocked read or write (see clockDial); otherwise the connection
	// carries the deadline itself.
	if d, ok := ctx.Deadline(); ok && !onClock(ctx) {
		_ = conn.SetDeadline(d)
	}
	// Cancellation (and on the clock the deadline) interrupts a blocked
	// read.
	stop := afterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	x := exchanges.Get().(*exchange)
	x.reset(conn)
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		x.release()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, err
	}

	// An httptrace.ClientTrace (/probe's phases) hears what net/http's
	// Transport would tell it: net.Dialer tells it of the connect,
	// Request.Write of the request written, we of the first byte.
	trace := httptrace.ContextClientTrace(ctx)
	// A trace hears each header field as Request.Write writes it.
	if trace != nil || head == nil || !head.write(x.bw, req.URL.Host) {
		out := *req
		out.Close = true // Connection: close, as DisableKeepAlives sends
		// Request.Write buffers in a writer of its own unless given one.
		if err := out.Write(x.bw); err != nil {
			return fail(err)
		}
	}
	if err := x.bw.Flush(); err != nil {
		return fail(err)
	}
	br := x.br
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
			x.src.compact(br)
		}
		res, err = http.ReadResponse(br, req)
		if err != nil {
			if x.lr.limit <= 0 {
				err = &malformedError{fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxResponseHeaderBytes)}
			} else if !isConnError(err) {
				err = &malformedError{err} // what the parser refused
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
	x.lr.limit = math.MaxInt64 // bodies have their own cap
	res.Body = &oneShotBody{ReadCloser: res.Body, conn: conn, stop: stop, x: x}
	return res, nil
}

// exchange is what one cleartext exchange reads and writes through: the
// transport's 4 KiB read and write buffers, reused from attempt to
// attempt (they were most of an attempt's allocated bytes).
type exchange struct {
	lr  limitedConn
	src replayReader
	br  *bufio.Reader
	bw  *bufio.Writer
}

var exchanges = sync.Pool{New: func() any {
	x := &exchange{}
	x.src.r = &x.lr
	x.br = bufio.NewReaderSize(&x.src, readBufferSize)
	x.bw = bufio.NewWriterSize(nil, readBufferSize)
	return x
}}

func (x *exchange) reset(conn net.Conn) {
	x.lr = limitedConn{Conn: conn, limit: maxResponseHeaderBytes}
	x.src = replayReader{r: &x.lr}
	x.br.Reset(&x.src)
	x.bw.Reset(conn)
}

// release returns x to the pool: nothing may read through it after.
func (x *exchange) release() {
	x.lr.Conn = nil
	x.src = replayReader{r: &x.lr}
	x.br.Reset(&x.src)
	x.bw.Reset(nil)
	exchanges.Put(x)
}

// roundTripTLS hands a request to the standard transport, which waits on
// its context's Done (the handshake, the response head): an attempt on
// the clock (a cleartext probe redirected to https) gets an exact
// deadline for it, released with the body.
func (t *oneShotTransport) roundTripTLS(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	dl, ok := ctx.Deadline()
	if !ok || !onClock(ctx) {
		return t.tls.RoundTrip(req)
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	res, err := t.tls.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// cancelBody releases a request's context with its body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
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

// oneShotBody closes the connection with the body, and hands the
// exchange's buffers back: a read after Close is refused as net/http
// refuses it, never served from a buffer another attempt now uses.
type oneShotBody struct {
	io.ReadCloser
	conn   net.Conn
	stop   func() bool
	x      *exchange
	closed bool
}

func (b *oneShotBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errReadOnClosedBody
	}
	return b.ReadCloser.Read(p)
}

func (b *oneShotBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.stop()
	b.conn.Close()
	b.x.release()
	return nil
}

// errReadOnClosedBody is net/http's wording.
var errReadOnClosedBody = errors.New("http: read on closed response body")
