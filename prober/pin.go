package prober

import (
	"context"
	"net"
	"strings"
)

// A pin sends connections for one name elsewhere, as curl's --resolve:
// the request keeps the name (URL, Host header, TLS server name) and the
// connection goes to host. /probe's hostname parameter is one: a target
// given by address, probed as the virtual host the name says.
type pin struct{ name, host string }

type pinKey struct{}

// WithPinnedHost makes attempts under ctx connect to host (an address or
// another name) wherever they would connect to name.
func WithPinnedHost(ctx context.Context, name, host string) context.Context {
	return context.WithValue(ctx, pinKey{}, pin{name, host})
}

// pinnedDialer applies ctx's pin, if any, before dialing; the dial guard
// then judges the pinned address, not the name.
type pinnedDialer struct{ Dialer }

func (d pinnedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if p, ok := ctx.Value(pinKey{}).(pin); ok {
		if host, port, err := net.SplitHostPort(address); err == nil && strings.EqualFold(host, p.name) {
			address = net.JoinHostPort(p.host, port)
		}
	}
	return d.Dialer.DialContext(ctx, network, address)
}
