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
		// IPv6 forms that reach an IPv4 host through a translator or a
		// tunnel whose IPv4 end is not judged here: the local-use NAT64
		// prefix (RFC 8215; where the IPv4 sits depends on its length),
		// 6to4 and Teredo. The well-known NAT64 prefix and IPv4-compatible
		// addresses are judged as the IPv4 they carry (embeddedIPv4).
		"64:ff9b:1::/48", "2002::/16", "2001::/32",
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
	if !ascii(e) {
		return errors.New("not ASCII: write a name in its ASCII (IDNA A-label) form")
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

// Admission is what let a request's host in: a listed name (then its
// addresses, judged at dial time by Addr, need only avoid the special
// ranges), and the port the admitting entry names (0: any), which every
// dial of the attempt must then use, redirect hops included.
type Admission struct {
	ByName bool
	Port   int
}

// Host judges a request's host and port before anything is dialed.
func (l *List) Host(host string, port int) (Admission, error) {
	if !ascii(host) {
		// strings.ToLower folds some non-ASCII letters into ASCII ones
		// (U+212A KELVIN SIGN into k): the name compared would not be the
		// name resolved.
		return Admission{}, refuse("%q is not an ASCII host name", host)
	}
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if strings.Contains(h, "%") {
		return Admission{}, refuse("%q: IPv6 zones are not allowed", host)
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return Admission{}, l.addr(a)
	}
	if ambiguousIPv4(h) {
		return Admission{}, refuse("%q reads as an IPv4 address in a non-canonical form (hex, octal, or fewer than four parts): refused as ambiguous", host)
	}
	for _, n := range l.names {
		if (n.port == 0 || n.port == port) && matchName(n.pattern, h) {
			return Admission{ByName: true, Port: n.port}, nil
		}
	}
	return Admission{}, refuse("%s is not in probeEndpoint.allowedTargets", hostPort(host, port))
}

// Addr judges an address an attempt is about to connect to, given what
// admitted the request.
func (l *List) Addr(a netip.AddrPort, adm Admission) error {
	if adm.Port != 0 && int(a.Port()) != adm.Port {
		return refuse("%s: the entry that allowed the request allows port %d only", a, adm.Port)
	}
	ip := judged(a.Addr())
	if adm.ByName {
		if explicit, sp := l.special(ip); sp != "" && !explicit {
			return refuse("the name resolves to %s, in %s, which only an explicit allowedTargets entry allows", a.Addr(), sp)
		}
		return nil
	}
	return l.addr(ip)
}

// judged is the address a connection to ip reaches, as judged here: an
// IPv4-mapped address, a well-known-prefix NAT64 address (64:ff9b::/96,
// RFC 6052: what DNS64 synthesises on IPv6-only clusters) and an
// IPv4-compatible one (::a.b.c.d, deprecated) are their IPv4 address.
func judged(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if !ip.Is6() {
		return ip
	}
	b := ip.As16()
	v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case nat64.Contains(ip):
		return v4
	case compatible.Contains(ip) && b[12]|b[13] != 0: // not :: or ::1, nor ::/112
		return v4
	}
	return ip
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	compatible = netip.MustParsePrefix("::/96")
)

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (l *List) addr(a netip.Addr) error {
	ip := judged(a)
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
