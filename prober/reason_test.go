package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// TestClassifyErr: each error shape an attempt ends in gets its class by
// type, wrapped as net/http and net wrap them.
func TestClassifyErr(t *testing.T) {
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	read := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: err}}
	}
	get := func(err error) error { return &url.Error{Op: "Get", URL: "http://x/", Err: err} }
	for _, c := range []struct {
		name      string
		err       error
		handshake bool
		want      Reason
	}{
		{"nil", nil, false, NoReason},
		{"refused", dial(syscall.ECONNREFUSED), false, ConnectionRefused},
		{"refused through the client", get(dial(syscall.ECONNREFUSED)), false, ConnectionRefused},
		{"host unreachable", dial(syscall.EHOSTUNREACH), false, HostUnreachable},
		{"network unreachable", dial(syscall.ENETUNREACH), false, HostUnreachable},
		{"connect timeout", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, false, ConnectionTimeout},
		{"connect cut by the context", &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}, false, ConnectionTimeout},
		{"guard refused the dial", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused: not allowed")}, false, Other},
		{"nxdomain", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "NXDOMAIN", IsNotFound: true}}, false, DNSNXDomain},
		{"nodata", &net.DNSError{Err: "NODATA", IsNotFound: true}, false, DNSNXDomain},
		{"servfail", &net.DNSError{Err: "SERVFAIL", IsTemporary: true}, false, DNSServfail},
		{"dns timeout", &net.DNSError{Err: "timeout", IsTimeout: true, IsTemporary: true}, false, DNSTimeout},
		{"read timeout", get(read(os.ErrDeadlineExceeded)), false, Timeout},
		{"the attempt's deadline", get(context.DeadlineExceeded), false, Timeout},
		{"reset", get(read(syscall.ECONNRESET)), false, ConnectionReset},
		{"broken pipe", get(&net.OpError{Op: "write", Net: "tcp", Err: &os.SyscallError{Syscall: "write", Err: syscall.EPIPE}}), false, ConnectionReset},
		{"closed early", get(io.EOF), false, ConnectionClosed},
		{"closed mid-body", fmt.Errorf("reading response body: %w", io.ErrUnexpectedEOF), false, ConnectionClosed},
		{"malformed head", get(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", &malformedError{errors.New(`malformed HTTP response "x"`)})), false, HTTPMalformed},
		{"redirect limit", get(errRedirectLimit), false, HTTPRedirectLimit},
		{"tls alert", get(tls.AlertError(40)), false, TLSHandshake},
		{"not tls", get(&tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false, TLSHandshake},
		{"eof in the handshake", get(io.EOF), true, TLSHandshake},
		{"timeout in the handshake", get(context.DeadlineExceeded), true, Timeout},
		{"anything else", errors.New("unsupported protocol scheme"), false, Other},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := classifyErr(c.err, c.handshake); got != c.want {
				t.Errorf("classifyErr(%v) = %s, want %s", c.err, got, c.want)
			}
		})
	}
}

// TestReasonNames: every class has a distinct label value in
// Prometheus' label-value-friendly form, and none is empty.
func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		n := r.String()
		if n == "" || seen[n] {
			t.Errorf("class %d: name %q empty or repeated", r, n)
		}
		seen[n] = true
		for _, c := range n {
			if (c < 'a' || c > 'z') && c != '_' && (c < '0' || c > '9') {
				t.Errorf("class %q: character %q", n, c)
			}
		}
	}
	if NoReason.String() != "" || Reason(200).String() != "other" {
		t.Error("NoReason must be empty, an unknown class other")
	}
}
