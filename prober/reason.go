package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Reason is why an attempt failed or errored, as one of a fixed set of
// classes: a bounded label value (probe_failure_reason{reason}) beside
// the reason's text, which is unbounded and never a label. Each prober
// classifies where it fails, from typed errors (errno values, net.Error,
// *net.DNSError, crypto/tls's error types, the phase it was in), never
// from an error's text.
type Reason uint8

// The classes. NoReason is an attempt that succeeded.
const (
	NoReason Reason = iota
	// ConnectionRefused: the target answered the connect with a reset
	// (nothing listens on the port, or a firewall rejects).
	ConnectionRefused
	// ConnectionTimeout: the connect did not complete within the timeout
	// (a black hole: dropped SYNs, a filtered port, a host that is gone).
	ConnectionTimeout
	// ConnectionReset: the connection was reset after it was made.
	ConnectionReset
	// ConnectionClosed: the target closed the connection before a whole
	// answer.
	ConnectionClosed
	// HostUnreachable: the network says the address can't be reached
	// (EHOSTUNREACH, ENETUNREACH).
	HostUnreachable
	// Timeout: connected, but no whole answer within the timeout.
	Timeout
	// DNSNXDomain: the name does not exist, or has no address of the
	// family asked (NODATA).
	DNSNXDomain
	// DNSServfail: the DNS servers failed to answer (SERVFAIL, REFUSED,
	// none reachable).
	DNSServfail
	// DNSTimeout: no DNS server answered within the timeout.
	DNSTimeout
	// TLSHandshake: the TLS handshake failed (an alert, not TLS, closed
	// during the handshake).
	TLSHandshake
	// HTTPStatus: an HTTP answer with a status under 200 or from 400.
	HTTPStatus
	// HTTPRedirectLimit: more than 10 redirects.
	HTTPRedirectLimit
	// HTTPMalformed: an answer that is not HTTP/1.x (a malformed status
	// line, header or body framing, a head over the size limit).
	HTTPMalformed
	// GRPCNotServing: the health service answered, not SERVING.
	GRPCNotServing
	// GRPCUnavailable: connected, but no gRPC answer (not HTTP/2, the
	// RPC failed as Unavailable).
	GRPCUnavailable
	// GRPCUnimplemented: the server does not implement
	// grpc.health.v1.Health.
	GRPCUnimplemented
	// ExecExitCode: the command exited non-zero.
	ExecExitCode
	// ExecTimeout: the command did not exit within the timeout.
	ExecTimeout
	// Reached: an isolation check (expect: unreachable) reached its
	// target.
	Reached
	// Other: none of the above (a named port the target lacks, a command
	// that could not start, an error no class describes).
	Other
	numReasons
)

var reasonNames = [numReasons]string{
	"", "connection_refused", "connection_timeout", "connection_reset", "connection_closed",
	"host_unreachable", "timeout", "dns_nxdomain", "dns_servfail", "dns_timeout", "tls_handshake",
	"http_status", "http_redirect_limit", "http_malformed", "grpc_not_serving", "grpc_unavailable",
	"grpc_unimplemented", "exec_exit_code", "exec_timeout", "reached", "other",
}

// String is the class's label value ("" for NoReason).
func (r Reason) String() string {
	if r >= numReasons {
		return reasonNames[Other]
	}
	return reasonNames[r]
}

// Reasons are every class, in order, NoReason left out.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := NoReason + 1; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// classifyErr classifies an attempt's error by its type: a failed lookup,
// a failed connect (by errno, or a timeout while connecting), a timeout
// or a reset after, a connection closed early. handshake says the error
// ended a TLS handshake (what the transport reported to the attempt's
// trace), for errors with no TLS type of their own (an EOF, a reset).
func classifyErr(err error, handshake bool) Reason {
	if err == nil {
		return NoReason
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsTimeout:
			return DNSTimeout
		case dnsErr.IsNotFound:
			return DNSNXDomain
		}
		return DNSServfail
	}
	if errors.Is(err, errRedirectLimit) {
		return HTTPRedirectLimit
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return ConnectionRefused
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
			return HostUnreachable
		case isTimeout(err):
			return ConnectionTimeout
		case errors.Is(err, syscall.ECONNRESET):
			return ConnectionReset
		}
		return Other
	}
	var alert tls.AlertError
	var record *tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &alert) || errors.As(err, &record) || errors.As(err, &verify) {
		return TLSHandshake
	}
	if handshake && !isTimeout(err) {
		return TLSHandshake
	}
	var malformed *malformedError
	switch {
	case isTimeout(err):
		return Timeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ConnectionReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ConnectionClosed
	case errors.As(err, &malformed):
		return HTTPMalformed
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return HostUnreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return ConnectionRefused
	}
	return Other
}

// isTimeout: a deadline ended it (the attempt's context, a connection's
// deadline, a net.Error that says so).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isConnError: err came from the connection (a timeout, an errno, an
// end of stream), not from what was read on it.
func isConnError(err error) bool {
	var ne net.Error
	var errno syscall.Errno
	return errors.As(err, &ne) || errors.As(err, &errno) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// malformedError marks an answer that could not be read as HTTP (its
// text is the error's own: what the kubelet's client would say).
type malformedError struct{ err error }

func (e *malformedError) Error() string { return e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// errRedirectLimit is what the client's CheckRedirect returns on the
// 11th redirect, worded as the kubelet's.
var errRedirectLimit = errors.New("stopped after 10 redirects")
