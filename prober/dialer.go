package prober

import (
	"context"
	"net"
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
func NewDialer() Dialer {
	return &guardedDialer{guarded: net.Dialer{ControlContext: guardControl}}
}

type guardedDialer struct{ plain, guarded net.Dialer }

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ctx = clockDial(ctx, address)
	if _, ok := ctx.Value(guardKey{}).(DialGuard); ok {
		return d.guarded.DialContext(ctx, network, address)
	}
	return d.plain.DialContext(ctx, network, address)
}
