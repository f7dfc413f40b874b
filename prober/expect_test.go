package prober

import (
	"context"
	"errors"
	"testing"
)

// fixedProber answers every attempt with one outcome.
type fixedProber struct {
	typ Type
	o   Outcome
}

func (f fixedProber) Probe(context.Context, *Target) Outcome { return f.o }
func (f fixedProber) Address(*Target) string                 { return "10.0.0.1:80" }
func (f fixedProber) Type() Type                             { return f.typ }

// TestExpectUnreachable: what the wrapped prober found, judged the other
// way: not reaching passes, reaching fails with class Reached, and a
// failed lookup is no verdict (an error).
func TestExpectUnreachable(t *testing.T) {
	for _, c := range []struct {
		name   string
		typ    Type
		o      Outcome
		result Result
		reason Reason
		err    bool
	}{
		{"refused", TCPSocket, Outcome{Result: Failure, Reason: ConnectionRefused}, Success, NoReason, false},
		{"black hole", HTTPGet, Outcome{Result: Failure, Reason: ConnectionTimeout}, Success, NoReason, false},
		{"reset", HTTPGet, Outcome{Result: Failure, Reason: ConnectionReset}, Success, NoReason, false},
		{"no answer in time", HTTPGet, Outcome{Result: Failure, Reason: Timeout}, Success, NoReason, false},
		{"unreachable network", TCPSocket, Outcome{Result: Failure, Reason: HostUnreachable}, Success, NoReason, false},
		{"connected, no gRPC", GRPC, Outcome{Result: Failure, Reason: GRPCUnavailable}, Success, NoReason, false},
		{"a connect", TCPSocket, Outcome{Result: Success}, Failure, Reached, false},
		{"an HTTP 200", HTTPGet, Outcome{Result: Success, StatusCode: 200}, Failure, Reached, false},
		{"an unfollowed redirect", HTTPGet, Outcome{Result: Warning, StatusCode: 302}, Failure, Reached, false},
		{"an HTTP 503", HTTPGet, Outcome{Result: Failure, StatusCode: 503, Reason: HTTPStatus}, Failure, Reached, false},
		{"a TLS alert", HTTPGet, Outcome{Result: Failure, Reason: TLSHandshake}, Failure, Reached, false},
		{"a body cut short", HTTPGet, Outcome{Result: Failure, StatusCode: 200, Err: errors.New("reading response body: unexpected EOF"), Reason: ConnectionClosed}, Failure, Reached, false},
		{"NOT_SERVING", GRPC, Outcome{Result: Failure, Reason: GRPCNotServing}, Failure, Reached, false},
		{"no such name", TCPSocket, Outcome{Result: Failure, Reason: DNSNXDomain}, Unknown, DNSNXDomain, true},
		{"a named port it lacks", HTTPGet, Outcome{Result: Unknown, Err: errors.New("no port"), Reason: Other}, Unknown, Other, true},
		{"a command", Exec, Outcome{Result: Success}, Unknown, Other, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ExpectUnreachable(fixedProber{c.typ, c.o}).Probe(context.Background(), &Target{})
			if o.Result != c.result || o.Reason != c.reason || (o.Err != nil) != c.err {
				t.Errorf("%+v became %+v; want result %v, reason %s, error %v", c.o, o, c.result, c.reason, c.err)
			}
		})
	}
}
