package resolver

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Config is one resolver's view of DNS: resolv.conf's, or an entry's own
// nameservers.
type Config struct {
	// Servers are host:port, asked in order (a failing one is asked
	// last for a while, see Resolver).
	Servers []string
	// Search and Ndots are resolv.conf's: a name with fewer than Ndots
	// dots is tried with each search domain before it is tried as is.
	Search []string
	Ndots  int
	// Timeout bounds one query to one server (resolv.conf's timeout:,
	// 5 s by default); a lookup's own deadline (the probe's timeout)
	// always comes first.
	Timeout time.Duration
	// Attempts is how many rounds over Servers a lookup makes
	// (resolv.conf's attempts:, 2 by default).
	Attempts int
	// HostsFile is read before DNS is asked, as the stub resolver's
	// "files dns" order does; "" reads none.
	HostsFile string
}

// Defaults are the stub resolver's when resolv.conf says nothing: a
// local nameserver, ndots 1, 5 s timeout, 2 attempts.
func Defaults() Config {
	return Config{Servers: []string{"127.0.0.1:53", "[::1]:53"}, Ndots: 1, Timeout: 5 * time.Second, Attempts: 2, HostsFile: "/etc/hosts"}
}

// FromResolvConf reads path as resolv.conf. When it can't be read, it
// returns Defaults together with the error (the stub resolver carries on
// with its defaults too; the caller decides whether that is fatal).
func FromResolvConf(path string) (Config, error) {
	c := Defaults()
	if _, err := os.Stat(path); err != nil {
		return c, err
	}
	cc, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return c, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(cc.Servers) > 0 {
		c.Servers = c.Servers[:0:0]
		for _, s := range cc.Servers {
			c.Servers = append(c.Servers, net.JoinHostPort(s, cc.Port))
		}
	}
	c.Search = cc.Search
	c.Ndots = cc.Ndots
	if cc.Timeout > 0 {
		c.Timeout = time.Duration(cc.Timeout) * time.Second
	}
	if cc.Attempts > 0 {
		c.Attempts = cc.Attempts
	}
	return c, nil
}

// WithServers is c asking servers instead (an entry's own nameservers,
// a cluster's DNS seen from a bastion): names are asked as given, since
// this host's search list belongs to its own DNS; timeouts and the hosts
// file stay resolv.conf's.
func (c Config) WithServers(servers []string) Config {
	if len(servers) > 0 {
		c.Servers = append([]string(nil), servers...)
		c.Search, c.Ndots = nil, 1
	}
	return c
}

// key identifies a Config: resolvers with equal keys share one Resolver.
func (c Config) key() string {
	return strings.Join(c.Servers, ",") + "|" + strings.Join(c.Search, ",") + "|" +
		strconv.Itoa(c.Ndots) + "|" + c.Timeout.String() + "|" + strconv.Itoa(c.Attempts) + "|" + c.HostsFile
}

// Family is which addresses a lookup wants.
type Family uint8

// Address families.
const (
	// AnyFamily asks for A and AAAA; IPv4 addresses come first.
	AnyFamily Family = iota
	IPv4
	IPv6
)

// Families are the values an entry's ipFamily may take.
var Families = []string{"IPv4", "IPv6"}

// ParseFamily reads an ipFamily value ("" is AnyFamily).
func ParseFamily(s string) (Family, error) {
	switch s {
	case "":
		return AnyFamily, nil
	case "IPv4":
		return IPv4, nil
	case "IPv6":
		return IPv6, nil
	}
	return AnyFamily, fmt.Errorf("unsupported ipFamily %q", s)
}

func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return ""
}

// qtypes are the record types a family asks for, in answer order.
func (f Family) qtypes() []uint16 {
	switch f {
	case IPv4:
		return []uint16{mdns.TypeA}
	case IPv6:
		return []uint16{mdns.TypeAAAA}
	}
	return []uint16{mdns.TypeA, mdns.TypeAAAA}
}
