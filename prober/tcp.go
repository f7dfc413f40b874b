package prober

import (
	"context"

	"github.com/probe-exporter/probe-exporter/probe"
)

// tcpProber is the kubelet's DoTCPProbe: connect, close at once, send
// nothing. A kernel that completes the handshake from the listen backlog
// counts as success even if the application is hung, as in the kubelet.
type tcpProber struct {
	host   string
	port   probe.IntOrString
	dialer Dialer
}

func (p *tcpProber) Type() Type { return TCPSocket }

// A dial is all a tcpSocket attempt waits on.
func (p *tcpProber) socketBound() bool { return true }

func (p *tcpProber) Address(t *Target) string {
	a, _ := hostPort(p.host, p.port, t)
	return a
}

func (p *tcpProber) Probe(ctx context.Context, t *Target) Outcome {
	addr, err := hostPort(p.host, p.port, t)
	if err != nil {
		return Outcome{Result: Unknown, Err: err, Reason: Other}
	}
	conn, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Outcome{Result: Failure, Output: dialErrorText(err), Reason: classifyErr(err, false)}
	}
	_ = conn.Close() // the kubelet only logs a failed close
	return Outcome{Result: Success}
}
