package prober

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// DialGuard judges each address an attempt connects to, when it is
// dialed: after resolution and on every redirect hop, so that what a
// name resolves to or where a redirect points is judged, not what the
// request said (the /probe endpoint's allowlist). An error refuses the
// connection; the attempt fails with it.
type DialGuard func(netip.AddrPort) error

type guardKey struct{}

// WithDialGuard makes every dial of attempts run under ctx ask g first.
func WithDialGuard(ctx context.Context, g DialGuard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

// checkGuard asks ctx's guard, if any, about address (ip:port).
func checkGuard(ctx context.Context, address string) error {
	g, ok := ctx.Value(guardKey{}).(DialGuard)
	if !ok {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: %q is not an address to judge", address)
	}
	return g(ap)
}

// guardControl runs in net.Dialer right before connect(2), with the
// address actually dialed and the dial's context.
func guardControl(ctx context.Context, _, address string, _ syscall.RawConn) error {
	return checkGuard(ctx, address)
}

// Attempt runs one attempt of p against t, without the kubelet's retries
// on error: what /probe answers. It returns the outcome and how long the
// attempt took.
func Attempt(ctx context.Context, p Prober, t *Target, timeout time.Duration) (Outcome, time.Duration) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	actx, tr := withTrace(actx)
	start := time.Now()
	o := p.Probe(actx, t)
	took := time.Since(start)
	if n := tr.lookups.Load(); n > 0 {
		o.LookedUp, o.Lookup = true, time.Duration(tr.lookupNanos.Load())
	}
	return o, took
}
