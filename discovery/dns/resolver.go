package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// resolver asks its nameservers in order: UDP, then TCP when the answer
// was truncated; the next server when one fails (a timeout, SERVFAIL,
// REFUSED), as resolv.conf's resolvers do. NXDOMAIN and an empty answer
// are answers: the name has no records (any more).
type resolver struct {
	servers []string
	search  []string
	ndots   int
	timeout time.Duration
}

// lookup returns the records of type qtype for name (through the search
// list when it has fewer than ndots dots), and their shortest TTL.
func (r *resolver) lookup(ctx context.Context, name string, qtype uint16) ([]mdns.RR, time.Duration, error) {
	var lastErr error
	for _, fqdn := range r.candidates(name) {
		rrs, ttl, err := r.query(ctx, fqdn, qtype)
		if err == nil && len(rrs) > 0 {
			return rrs, ttl, nil
		}
		if err != nil && !errors.Is(err, errNoSuchName) {
			lastErr = err
		}
	}
	if lastErr != nil {
		return nil, 0, lastErr
	}
	return nil, 0, nil // NXDOMAIN or no records everywhere: nothing
}

// errNoSuchName is NXDOMAIN.
var errNoSuchName = errors.New("NXDOMAIN")

// candidates are the names to try, as the stub resolver orders them.
func (r *resolver) candidates(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var out []string
	if strings.Count(name, ".") >= r.ndots {
		out = append(out, name+".")
	}
	for _, s := range r.search {
		out = append(out, mdns.Fqdn(name+"."+strings.TrimSuffix(s, ".")))
	}
	if strings.Count(name, ".") < r.ndots {
		out = append(out, name+".")
	}
	return out
}

// query asks each server in turn for fqdn.
func (r *resolver) query(ctx context.Context, fqdn string, qtype uint16) ([]mdns.RR, time.Duration, error) {
	m := new(mdns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.SetEdns0(4096, false)
	var lastErr error
	for _, server := range r.servers {
		in, err := r.exchange(ctx, m, server)
		if err != nil {
			lastErr = err
			continue
		}
		switch in.Rcode {
		case mdns.RcodeSuccess:
			var rrs []mdns.RR
			var ttl time.Duration
			for _, rr := range in.Answer {
				if rr.Header().Rrtype != qtype {
					continue // CNAMEs on the way
				}
				rrs = append(rrs, rr)
				if t := time.Duration(rr.Header().Ttl) * time.Second; ttl == 0 || t < ttl {
					ttl = t
				}
			}
			return rrs, ttl, nil
		case mdns.RcodeNameError:
			return nil, 0, errNoSuchName
		default:
			lastErr = rcodeError{in.Rcode}
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no nameservers")
	}
	return nil, 0, lastErr
}

// exchange sends m to server over UDP, and again over TCP if the answer
// came back truncated.
func (r *resolver) exchange(ctx context.Context, m *mdns.Msg, server string) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &mdns.Client{Net: "udp", Timeout: r.timeout}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	return in, err
}
