// Package resolver is the one DNS resolver every probed name goes
// through (static hosts, SRV targets, brace-range names, FQDN
// EndpointSlices, service DNS names), built on github.com/miekg/dns: the
// hosts file first, then nameservers in order with failover, UDP with a
// TCP retry on truncation, resolv.conf's search list and ndots, and a
// bounded cache that honours TTLs and negative TTLs. A lookup runs
// inside its caller's deadline (a probe's timeout), and a failure says
// which it was, NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout or
// unreachable, where Go's stub resolver says "no such host" for most.
package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a lookup fails, as the Err of the *net.DNSError it returns:
// the probe's reason and the log say which, never a label.
const (
	NXDOMAIN    = "NXDOMAIN"
	NoData      = "NODATA" // the name exists, with no records of the type asked
	Timeout     = "timeout"
	Unreachable = "unreachable"
)

// Reason names err's cause with a bounded value (for a metric label): a
// reason above, an rcode name (SERVFAIL, REFUSED), or "error".
func Reason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		r, _, _ := strings.Cut(de.Err, " ")
		switch r {
		case NXDOMAIN, NoData, Timeout, Unreachable:
			return r
		}
		if _, ok := mdns.StringToRcode[r]; ok {
			return r
		}
	}
	return "error"
}

// Options configure a Pool.
type Options struct {
	// CacheSize bounds the answers kept, over all resolvers of the pool;
	// 0 keeps none.
	CacheSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Pool is what the resolvers of one process share: the cache, metrics,
// and one Resolver per distinct Config (so that a reload keeps a
// resolver's view of which servers are failing).
type Pool struct {
	o     Options
	m     *metrics
	cache *cache

	mu    sync.Mutex
	byKey map[string]*Resolver
	hosts map[string]*hosts
}

// NewPool returns a Pool whose metrics are registered with reg (if not
// nil).
func NewPool(o Options, reg prometheus.Registerer) *Pool {
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Pool{o: o, m: newMetrics(), byKey: map[string]*Resolver{}, hosts: map[string]*hosts{}}
	p.cache = newCache(o.CacheSize, p.m)
	if reg != nil {
		p.m.register(reg, func() float64 { return float64(p.cache.len()) })
	}
	return p
}

// Resolver returns the pool's resolver for c.
func (p *Pool) Resolver(c Config) *Resolver {
	if c.Timeout <= 0 {
		c.Timeout = Defaults().Timeout
	}
	if c.Attempts <= 0 {
		c.Attempts = 1
	}
	k := c.key()
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.byKey[k]; ok {
		return r
	}
	h, ok := p.hosts[c.HostsFile]
	if !ok && c.HostsFile != "" {
		h = &hosts{path: c.HostsFile, now: p.o.Now}
		p.hosts[c.HostsFile] = h
	}
	r := &Resolver{c: c, key: k, pool: p, hosts: h, failing: map[string]time.Time{}, flights: map[cacheKey]*flight{}}
	p.byKey[k] = r
	return r
}

// Resolver resolves names through one Config's nameservers.
type Resolver struct {
	c     Config
	key   string
	pool  *Pool
	hosts *hosts

	mu      sync.Mutex
	failing map[string]time.Time // server: asked last until then
	flights map[cacheKey]*flight
}

// Config is the resolver's configuration.
func (r *Resolver) Config() Config { return r.c }

// LookupAddrs resolves host to its addresses of family f: the hosts file,
// then DNS through the search list, answers cached for their TTL.
// IPv4 addresses come before IPv6 ones. The error is a *net.DNSError
// whose Err is the reason (NXDOMAIN, SERVFAIL, timeout...).
func (r *Resolver) LookupAddrs(ctx context.Context, host string, f Family) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if as := filterFamily(r.hosts.lookup(host), f); len(as) > 0 {
		return as, nil
	}
	var found *net.DNSError // the error to report
	for _, fqdn := range r.candidates(host) {
		addrs, err := r.resolveName(ctx, fqdn, f)
		if len(addrs) > 0 {
			return addrs, nil
		}
		// A failure (SERVFAIL, a timeout) beats "not found": on a
		// candidate whose server failed, the name may well exist.
		if found == nil || (err.IsTemporary && !found.IsTemporary) {
			found = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if found == nil {
		found = &net.DNSError{Err: NXDOMAIN, IsNotFound: true}
	}
	out := *found
	out.Name = host
	return nil, &out
}

func filterFamily(as []netip.Addr, f Family) []netip.Addr {
	if f == AnyFamily || len(as) == 0 {
		var v4, v6 []netip.Addr
		for _, a := range as {
			if a.Unmap().Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
		return append(v4, v6...)
	}
	var out []netip.Addr
	for _, a := range as {
		if a.Unmap().Is4() == (f == IPv4) {
			out = append(out, a)
		}
	}
	return out
}

// resolveName asks for fqdn's A and/or AAAA records, at once. As the
// stub resolver does, a failure of one type doesn't hide the other's
// addresses.
func (r *Resolver) resolveName(ctx context.Context, fqdn string, f Family) ([]netip.Addr, *net.DNSError) {
	qtypes := f.qtypes()
	type answer struct {
		addrs []netip.Addr
		err   *net.DNSError
	}
	answers := make([]answer, len(qtypes))
	var wg sync.WaitGroup
	for i, qt := range qtypes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i+1].addrs, answers[i+1].err = r.addrsOf(ctx, fqdn, qt)
		}()
	}
	answers[0].addrs, answers[0].err = r.addrsOf(ctx, fqdn, qtypes[0])
	wg.Wait()
	var out []netip.Addr
	var err *net.DNSError
	for _, a := range answers {
		out = append(out, a.addrs...)
		switch {
		case a.err == nil:
		case err == nil, a.err.IsTemporary && !err.IsTemporary,
			a.err.Err == NoData && err.Err == NXDOMAIN && !err.IsTemporary:
			// NODATA for one type means the name exists.
			err = a.err
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if err == nil {
		err = &net.DNSError{Err: NoData, IsNotFound: true}
	}
	return nil, err
}

// flight is a query in progress that other lookups of the same name wait
// for instead of asking again.
type flight struct {
	done  chan struct{}
	addrs []netip.Addr
	err   *net.DNSError
}

// addrsOf is fqdn's records of qtype as addresses: from the cache, from a
// query already in flight, or from a new one.
func (r *Resolver) addrsOf(ctx context.Context, fqdn string, qtype uint16) ([]netip.Addr, *net.DNSError) {
	k := cacheKey{resolver: r.key, name: fqdn, qtype: qtype}
	for {
		if it, ok := r.pool.cache.get(k, r.pool.o.Now()); ok {
			if it.err != nil {
				e := *it.err
				return nil, &e
			}
			return it.addrs, nil
		}
		r.mu.Lock()
		fl, waiting := r.flights[k]
		if !waiting {
			fl = &flight{done: make(chan struct{})}
			r.flights[k] = fl
		}
		r.mu.Unlock()
		if !waiting {
			fl.addrs, fl.err = r.fly(ctx, k)
			r.mu.Lock()
			delete(r.flights, k)
			r.mu.Unlock()
			close(fl.done)
			return fl.addrs, fl.err
		}
		select {
		case <-ctx.Done():
			return nil, &net.DNSError{Err: Timeout, IsTimeout: true, IsTemporary: true}
		case <-fl.done:
		}
		// The query ran out of its own caller's time (or was cancelled)
		// while this lookup still has some: ask again.
		if fl.err != nil && fl.err.IsTimeout && ctx.Err() == nil {
			continue
		}
		return fl.addrs, fl.err
	}
}

// fly runs the query for k and caches what may be cached.
func (r *Resolver) fly(ctx context.Context, k cacheKey) ([]netip.Addr, *net.DNSError) {
	rrs, ttl, err := r.query(ctx, k.name, k.qtype)
	now := r.pool.o.Now()
	if err != nil {
		if err.IsNotFound {
			r.pool.cache.put(k, nil, err, ttl, now)
		}
		return nil, err
	}
	var addrs []netip.Addr
	for _, rr := range rrs {
		switch rec := rr.(type) {
		case *mdns.A:
			if a, ok := netip.AddrFromSlice(rec.A.To4()); ok {
				addrs = append(addrs, a)
			}
		case *mdns.AAAA:
			if a, ok := netip.AddrFromSlice(rec.AAAA); ok {
				addrs = append(addrs, a)
			}
		}
	}
	r.pool.cache.put(k, addrs, nil, ttl, now)
	return addrs, nil
}

// Lookup is name's records of qtype, through the search list, straight
// from the nameservers (never the cache: a discovery refresh wants the
// records as they are now), and their shortest TTL. A name with no
// records anywhere (NXDOMAIN, NODATA) gives none and no error.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) ([]mdns.RR, time.Duration, error) {
	var failed *net.DNSError
	for _, fqdn := range r.candidates(name) {
		rrs, ttl, err := r.query(ctx, fqdn, qtype)
		if err == nil && len(rrs) > 0 {
			return rrs, ttl, nil
		}
		if err != nil && !err.IsNotFound {
			failed = err
		}
	}
	if failed != nil {
		out := *failed
		out.Name = name
		return nil, 0, &out
	}
	return nil, 0, nil
}

// candidates are the names to try, as the stub resolver orders them.
func (r *Resolver) candidates(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	dots := strings.Count(name, ".")
	var out []string
	if dots >= r.c.Ndots {
		out = append(out, name+".")
	}
	for _, s := range r.c.Search {
		out = append(out, mdns.Fqdn(name+"."+strings.TrimSuffix(s, ".")))
	}
	if dots < r.c.Ndots {
		out = append(out, name+".")
	}
	return out
}

// failingFor is how long a server that failed on the network is asked
// after the others.
const failingFor = 30 * time.Second

// minShare is the least time a server is given when a lookup's time is
// shared between its servers.
const minShare = 100 * time.Millisecond

// servers are the servers in the order to ask them: those that failed
// lately last.
func (r *Resolver) servers() []string {
	now := r.pool.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.c.Servers))
	var late []string
	for _, s := range r.c.Servers {
		if until, ok := r.failing[s]; ok && now.Before(until) {
			late = append(late, s)
			continue
		}
		out = append(out, s)
	}
	return append(out, late...)
}

func (r *Resolver) markFailing(s string, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if failed {
		r.failing[s] = r.pool.o.Now().Add(failingFor)
	} else {
		delete(r.failing, s)
	}
}

// query asks the servers for fqdn's records of qtype: the answer's
// records of that type (CNAMEs followed by the server) and their TTL, or
// the error. A negative answer (NXDOMAIN, NODATA) comes with its negative
// TTL in place of a TTL.
func (r *Resolver) query(ctx context.Context, fqdn string, qtype uint16) ([]mdns.RR, time.Duration, *net.DNSError) {
	m := new(mdns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.SetEdns0(4096, false)
	servers := r.servers()
	var last *net.DNSError
	for round := 0; round < r.c.Attempts; round++ {
		for i, server := range servers {
			if ctx.Err() != nil {
				return nil, 0, timeoutError(server, last)
			}
			in, err := r.exchange(ctx, m, server, r.share(ctx, round, len(servers)-i))
			if err != nil {
				last = r.networkError(server, err)
				continue
			}
			r.markFailing(server, false)
			r.pool.m.responses.WithLabelValues(server, rcodeName(in.Rcode)).Inc()
			switch in.Rcode {
			case mdns.RcodeSuccess:
				var rrs []mdns.RR
				var ttl time.Duration
				for _, rr := range in.Answer {
					if t := time.Duration(rr.Header().Ttl) * time.Second; ttl == 0 || t < ttl {
						ttl = t
					}
					if rr.Header().Rrtype == qtype {
						rrs = append(rrs, rr)
					}
				}
				if len(rrs) == 0 {
					return nil, negativeTTL(in), &net.DNSError{Err: NoData, Server: server, IsNotFound: true}
				}
				return rrs, ttl, nil
			case mdns.RcodeNameError:
				return nil, negativeTTL(in), &net.DNSError{Err: NXDOMAIN, Server: server, IsNotFound: true}
			default:
				// SERVFAIL, REFUSED...: the next server may know.
				last = &net.DNSError{Err: rcodeName(in.Rcode), Server: server, IsTemporary: true}
			}
		}
	}
	if last == nil {
		last = &net.DNSError{Err: Unreachable + " (no nameservers)", IsTemporary: true}
	}
	return nil, 0, last
}

func timeoutError(server string, last *net.DNSError) *net.DNSError {
	if last != nil && !last.IsTimeout {
		return last // what the servers said, not that time ran out after
	}
	return &net.DNSError{Err: Timeout, Server: server, IsTimeout: true, IsTemporary: true}
}

// share is how long one server may take: resolv.conf's timeout, within
// the lookup's deadline, which the first round shares between the
// servers left, so that a silent first server leaves the next one time
// to answer inside a probe's timeout.
func (r *Resolver) share(ctx context.Context, round, left int) time.Duration {
	d := r.c.Timeout
	dl, ok := ctx.Deadline()
	if !ok {
		return d
	}
	rem := time.Until(dl)
	if round == 0 && left > 1 && rem/time.Duration(left) >= minShare {
		return min(d, rem/time.Duration(left))
	}
	return min(d, rem)
}

func (r *Resolver) networkError(server string, err error) *net.DNSError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		r.pool.m.timeouts.WithLabelValues(server).Inc()
		r.markFailing(server, true)
		return &net.DNSError{Err: Timeout, Server: server, IsTimeout: true, IsTemporary: true}
	}
	if errors.Is(err, context.Canceled) {
		return &net.DNSError{Err: Timeout + " (cancelled)", Server: server, IsTimeout: true, IsTemporary: true}
	}
	r.pool.m.errors.WithLabelValues(server).Inc()
	r.markFailing(server, true)
	detail := err.Error()
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		detail = oe.Err.Error() // "read: connection refused", without the socket's addresses
	}
	return &net.DNSError{Err: Unreachable + " (" + detail + ")", Server: server, IsTemporary: true}
}

// exchange sends m to server over UDP, and again over TCP if the answer
// came back truncated, within d.
func (r *Resolver) exchange(ctx context.Context, m *mdns.Msg, server string, d time.Duration) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c := &mdns.Client{Net: "udp", Timeout: d}
	r.pool.m.queries.WithLabelValues(server, "udp").Inc()
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		r.pool.m.queries.WithLabelValues(server, "tcp").Inc()
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	return in, err
}

// negativeTTL is how long a negative answer may be cached: the SOA's
// minimum, bounded by the SOA record's own TTL (RFC 2308); none without
// a SOA.
func negativeTTL(in *mdns.Msg) time.Duration {
	for _, rr := range in.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return 0
}
