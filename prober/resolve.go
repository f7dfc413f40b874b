package prober

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/probe-exporter/probe-exporter/resolver"
)

// resolvingDialer resolves a name through the shared resolver, inside
// the attempt's deadline, and dials its addresses one after the other,
// as net.Dialer's serial dial does (no Happy Eyeballs: ipFamily picks
// the family instead). A failed lookup fails the dial with the
// resolver's reason: "dial tcp: lookup web-3.shop on 10.96.0.10:53:
// NXDOMAIN".
type resolvingDialer struct {
	base   Dialer
	r      *resolver.Resolver
	family resolver.Family
}

func (d resolvingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || isIP(host) {
		return d.base.DialContext(ctx, network, address)
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return dialSerial(ctx, d.base, network, addrs, port, nil)
}

// dialSerial dials addrs one after the other until one answers, sharing
// ctx's time between them; check, when set, judges each address first.
func dialSerial(ctx context.Context, base Dialer, network string, addrs []netip.Addr, port string, check func(string) error) (net.Conn, error) {
	var first error
	for i, a := range addrs {
		address := net.JoinHostPort(a.String(), port)
		var conn net.Conn
		err := error(nil)
		if check != nil {
			err = check(address)
		}
		if err == nil {
			dctx, cancel := partialDeadline(ctx, len(addrs)-i)
			conn, err = base.DialContext(dctx, network, address)
			cancel()
		}
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// lookup resolves host and adds the time it took to the attempt's trace.
func (d resolvingDialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	start := time.Now()
	addrs, err := d.r.LookupAddrs(ctx, host, d.family)
	if tr, ok := ctx.Value(traceKey{}).(*trace); ok {
		tr.lookups.Add(1)
		tr.lookupNanos.Add(int64(time.Since(start)))
	}
	return addrs, err
}

// partialDeadline shares what is left of ctx's time between the
// addresses left to dial, each getting at least 2 s, as net.Dialer does.
func partialDeadline(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || left <= 1 {
		return context.WithCancel(ctx)
	}
	rem := time.Until(dl)
	share := rem / time.Duration(left)
	const saneMinimum = 2 * time.Second
	if share < saneMinimum {
		share = min(saneMinimum, rem)
	}
	return context.WithTimeout(ctx, share)
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host) // zones too: fe80::1%eth0
	return err == nil
}

// trace collects what an attempt's dials looked up.
type trace struct {
	lookups     atomic.Int32
	lookupNanos atomic.Int64
}

type traceKey struct{}

// withTrace gives ctx a trace for its attempt's lookups.
func withTrace(ctx context.Context) (context.Context, *trace) {
	tr := &trace{}
	return context.WithValue(ctx, traceKey{}, tr), tr
}

// addresses are host's addresses, inside the attempt's deadline: host
// itself when it is an IP address; nil without a resolver (the dialer's
// own then resolves the name).
func (e *Env) addresses(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if e.resolver == nil {
		return nil, nil
	}
	addrs, err := resolvingDialer{r: e.resolver, family: e.family}.lookup(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	return addrs, nil
}
