package prober

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
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
	dialer *net.Dialer
	tls    http.RoundTripper
}

// maxInformational is how many 1xx responses are skipped before the final
// one, as net/http.Transport does.
const maxInformational = 5

func (t *oneShotTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.tls.RoundTrip(req)
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

	out := *req
	out.Close = true // Connection: close, as DisableKeepAlives sends
	if err := out.Write(conn); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	var res *http.Response
	for i := 0; ; i++ {
		res, err = http.ReadResponse(br, req)
		if err != nil {
			return fail(err)
		}
		if res.StatusCode < 100 || res.StatusCode > 199 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if i == maxInformational {
			return fail(errors.New("net/http: too many 1xx informational responses"))
		}
	}
	res.Body = &oneShotBody{ReadCloser: res.Body, conn: conn, stop: stop}
	return res, nil
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
