// Package allowlist decides what /probe may reach: the probeEndpoint
// block's allowedTargets (CIDRs, host names and globs, each name with an
// optional port). A request's host is judged when it arrives (names and
// IP literals, with every spelling of an IPv4 address that a resolver or
// a browser would read as one refused as ambiguous), and every address
// an attempt connects to is judged again when it is dialed, after
// resolution and on every redirect hop, so that DNS rebinding and
// redirects can't pivot to what the list does not name. Link-local,
// cloud metadata, loopback, unspecified, multicast and broadcast
// addresses are refused unless a CIDR inside them is listed explicitly:
// 0.0.0.0/0 does not unlock 169.254.169.254.
package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// List is a parsed allowedTargets.
type List struct {
	prefixes []netip.Prefix
	names    []name
}

// name is a host name or glob (*.example.internal), with a port or 0 for
// any.
type name struct {
	pattern string
	port    int
}

// special ranges are refused unless a listed prefix lies inside one.
var special = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"169.254.0.0/16", "fe80::/10", // link-local, where cloud metadata lives
		"100.100.100.200/32",     // Alibaba Cloud metadata
		"192.0.0.192/32",         // Oracle Cloud metadata
		"fd00:ec2::254/128",      // AWS metadata over IPv6
		"127.0.0.0/8", "::1/128", // this host: the exporter's own endpoints
		"0.0.0.0/8", "::/128", // unspecified: this host again
		"224.0.0.0/4", "ff00::/8", // multicast
		"255.255.255.255/32", // broadcast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// EntryError is an entry that does not parse.
type EntryError struct {
	Index int
	Entry string
	Msg   string
}

func (e *EntryError) Error() string { return fmt.Sprintf("[%d]: %q: %s", e.Index, e.Entry, e.Msg) }

// Parse reads allowedTargets entries.
func Parse(entries []string) (*List, []*EntryError) {
	l := &List{}
	var errs []*EntryError
	for i, e := range entries {
		if err := l.add(e); err != nil {
			errs = append(errs, &EntryError{Index: i, Entry: e, Msg: err.Error()})
		}
	}
	return l, errs
}

func (l *List) add(e string) error {
	e = strings.TrimSpace(e)
	if e == "" {
		return errors.New("empty entry")
	}
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return errors.New("not a valid CIDR")
		}
		l.prefixes = append(l.prefixes, p.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(e); err == nil {
		l.prefixes = append(l.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		return nil
	}
	host, port := e, 0
	if i := strings.LastIndexByte(e, ':'); i >= 0 {
		n, err := strconv.Atoi(e[i+1:])
		if err != nil || n < 1 || n > 65535 {
			return errors.New("not a CIDR, an IP address, or a host name or glob with an optional :port (1-65535)")
		}
		host, port = e[:i], n
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return errors.New("an IP address with a port: list the address (or a CIDR) alone")
	}
	if ambiguousIPv4(host) {
		return errors.New("reads as an IPv4 address in a non-canonical form: write it as a.b.c.d")
	}
	if _, err := path.Match(host, ""); err != nil || !validName(strings.ReplaceAll(host, "*", "x")) {
		return errors.New("not a valid host name or glob")
	}
	l.names = append(l.names, name{pattern: host, port: port})
	return nil
}

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// Refusal is why a target was refused; its text is the 403's body.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// Host judges a request's host and port before anything is dialed. It
// returns whether a listed name allowed the host (then its addresses,
// judged at dial time by Addr, need only avoid the special ranges).
func (l *List) Host(host string, port int) (byName bool, err error) {
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if strings.Contains(h, "%") {
		return false, refuse("%q: IPv6 zones are not allowed", host)
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return false, l.addr(a)
	}
	if ambiguousIPv4(h) {
		return false, refuse("%q reads as an IPv4 address in a non-canonical form (hex, octal, or fewer than four parts): refused as ambiguous", host)
	}
	for _, n := range l.names {
		if (n.port == 0 || n.port == port) && matchName(n.pattern, h) {
			return true, nil
		}
	}
	return false, refuse("%s is not in probeEndpoint.allowedTargets", hostPort(host, port))
}

// Addr judges an address an attempt is about to connect to: byName is
// what Host said of the request's host.
func (l *List) Addr(a netip.AddrPort, byName bool) error {
	ip := a.Addr().Unmap()
	if byName {
		if explicit, sp := l.special(ip); sp != "" && !explicit {
			return refuse("the name resolves to %s, in %s, which only an explicit allowedTargets entry allows", ip, sp)
		}
		return nil
	}
	return l.addr(ip)
}

// addr allows an IP address that a listed prefix holds, and a special
// one only when a listed prefix lies inside its special range.
func (l *List) addr(a netip.Addr) error {
	ip := a.Unmap()
	if explicit, sp := l.special(ip); sp != "" {
		if explicit {
			return nil
		}
		return refuse("%s is in %s, which only an explicit allowedTargets entry allows", ip, sp)
	}
	for _, p := range l.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return refuse("%s is not in probeEndpoint.allowedTargets", ip)
}

// special reports the special range ip is in (or ""), and whether a
// listed prefix inside that range holds ip.
func (l *List) special(ip netip.Addr) (explicit bool, in string) {
	for _, s := range special {
		if !s.Contains(ip) {
			continue
		}
		for _, p := range l.prefixes {
			if p.Bits() >= s.Bits() && s.Contains(p.Addr()) && p.Contains(ip) {
				return true, s.String()
			}
		}
		return false, s.String()
	}
	return false, ""
}

func matchName(pattern, host string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == host
	}
	// A * matches within one label, as in TLS certificates: path.Match
	// stops at the separator, so "." is made it.
	ok, _ := path.Match(strings.ReplaceAll(pattern, ".", "/"), strings.ReplaceAll(host, ".", "/"))
	return ok
}

// ambiguousIPv4 reports a name that inet_aton (and so many resolvers,
// curl, browsers) would read as an IPv4 address though it is not in
// dotted-quad form: 0xa9fea9fe, 2852039166, 0251.0376.0251.0376,
// 169.254.43518, 0x7f.1.
func ambiguousIPv4(h string) bool {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		s := p
		base := 10
		switch {
		case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
			s, base = s[2:], 16
			if s == "" {
				return true // "0x" alone is 0 to inet_aton
			}
		case len(s) > 1 && s[0] == '0':
			s, base = s[1:], 8
		}
		if _, err := strconv.ParseUint(s, base, 32); err != nil {
			return false
		}
	}
	return true // all numeric: an IPv4 address to inet_aton, not dotted-quad (ParseAddr failed)
}

func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return strings.TrimSuffix(host, ".") + ":" + strconv.Itoa(port)
}
