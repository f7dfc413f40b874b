package prober

import (
	"context"
	"fmt"
)

// ExpectUnreachable makes p an isolation check: an attempt succeeds when
// p cannot reach its target — the connect refused, reset or timed out,
// the address unreachable, or no answer within the timeout — and fails
// when p reaches it: for httpGet any HTTP response (whatever its status),
// for tcpSocket a connect, for gRPC a gRPC answer (health, serving or
// not, or an unimplemented health service). A lookup that fails is no
// verdict either way, and errors: an isolation check of a name that does
// not resolve passes nothing. A command (exec) can't be one; the
// configuration refuses it, and an inherited one errors.
func ExpectUnreachable(p Prober) Prober { return &unreachable{p} }

type unreachable struct{ Prober }

// socketBound is the wrapped prober's (the attempt's cheap path).
func (u *unreachable) socketBound() bool {
	sb, ok := u.Prober.(socketBound)
	return ok && sb.socketBound()
}

// notReached are the classes of an attempt that reached nothing.
var notReached = [numReasons]bool{
	ConnectionRefused: true, ConnectionTimeout: true, ConnectionReset: true, ConnectionClosed: true,
	HostUnreachable: true, Timeout: true,
}

// noVerdict are the classes that say nothing about reachability.
var noVerdict = [numReasons]bool{DNSNXDomain: true, DNSServfail: true, DNSTimeout: true, Other: true}

func (u *unreachable) Probe(ctx context.Context, t *Target) Outcome {
	if u.Type() == Exec {
		return Outcome{Result: Unknown, Err: fmt.Errorf("an exec probe can't check that its target is unreachable"), Reason: Other}
	}
	o := u.Prober.Probe(ctx, t)
	r := o.Reason
	if o.StatusCode != 0 || (o.Err == nil && (o.Result == Success || o.Result == Warning)) {
		r = Reached // answered: an HTTP head (whatever followed), a connect, SERVING
	}
	// gRPC's Unavailable is connected with no gRPC answer: not reached.
	if r == GRPCUnavailable {
		r = Timeout
	}
	switch {
	case r < numReasons && notReached[r]:
		return Outcome{Result: Success, Output: "unreachable, as expected: " + outcomeText(o), Lookup: o.Lookup, LookedUp: o.LookedUp}
	case r < numReasons && noVerdict[r]:
		if o.Err == nil {
			o.Result, o.Err, o.Output = Unknown, fmt.Errorf("no verdict on reachability: %s", outcomeText(o)), ""
		}
		return o
	}
	said := outcomeText(o)
	switch {
	case o.StatusCode != 0:
		said = fmt.Sprintf("HTTP %d", o.StatusCode)
	case o.Result == Success && u.Type() == TCPSocket:
		said = "connected"
	}
	o.Result, o.Err, o.Reason = Failure, nil, Reached
	o.Output = fmt.Sprintf("reached %s, expected unreachable: %s", u.Address(t), said)
	return o
}

// outcomeText is what an outcome said: its error, else its output.
func outcomeText(o Outcome) string {
	if o.Err != nil {
		return o.Err.Error()
	}
	if o.Output == "" {
		return o.Result.String()
	}
	return o.Output
}
