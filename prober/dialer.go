package prober

import (
	"context"
	"net"
	"time"
)

// NewDialer is the default probe dialer. The kubelet's ProbeDialer
// sets SO_LINGER {on, 1s} hoping to shorten TIME-WAIT (kubernetes#89898).
// On Linux that only makes close() block until the FIN is acknowledged:
// the bytes on the wire and the TIME-WAIT period are the same, and the
// blocking close cost 2.5x the CPU of a plain dial+close in BenchmarkTCP.
// So we don't set it; README lists this among our deviations.
//
// An attempt with a DialGuard (see WithDialGuard) dials through a
// net.Dialer whose ControlContext asks it about each address right
// before it is connected; any other dials without one (the hook costs
// the dial two allocations, and scheduled probes have no guard).
//
// An attempt that ends within keepAliveIdle dials without TCP keep-alive:
// net.Dialer's default (the kubelet's) sends its first keep-alive probe
// after 15 s idle, so on a connection closed before then it changes no
// byte on the wire, and enabling it is three setsockopt calls, 4 % of the
// CPU of a tcpSocket probe at saturation. Longer attempts keep it.
func NewDialer() Dialer {
	return &guardedDialer{
		plain:   [2]net.Dialer{{}, {KeepAlive: -1}},
		guarded: [2]net.Dialer{{ControlContext: guardControl}, {ControlContext: guardControl, KeepAlive: -1}},
	}
}

// keepAliveIdle is net.Dialer's default keep-alive idle time (15 s), less
// a second for an attempt that ends late.
const keepAliveIdle = 14 * time.Second

// guardedDialer's dialers: [0] with keep-alive, [1] without.
type guardedDialer struct{ plain, guarded [2]net.Dialer }

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	short := 0
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= keepAliveIdle {
		short = 1
	}
	ctx = clockDial(ctx, address)
	if _, ok := ctx.Value(guardKey{}).(DialGuard); ok {
		return d.guarded[short].DialContext(ctx, network, address)
	}
	return d.plain[short].DialContext(ctx, network, address)
}
