// Package dns discovers targets in DNS (SRV, A, AAAA records), as
// Prometheus' dns_sd_configs does, with github.com/miekg/dns: a bastion
// often has DNS (or a forwarded cluster DNS) but no API credentials, and
// inside a cluster DNS is the cheapest way to watch many services.
package dns

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/resolver"
)

// Options configure a Discoverer.
type Options struct {
	// Resolvers and Resolv are the shared resolver pool and its default
	// configuration (resolv.conf's); without them, ResolvConf is read
	// (default /etc/resolv.conf) into a pool of the Discoverer's own.
	Resolvers  *resolver.Pool
	Resolv     *resolver.Config
	ResolvConf string
	Logger     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Discoverer runs dns: blocks.
type Discoverer struct {
	o       Options
	metrics *discovery.Metrics
	errors  *prometheus.CounterVec
	lookups *prometheus.CounterVec
}

// New returns a Discoverer that registers its metrics with reg.
func New(o Options, metrics *discovery.Metrics, reg prometheus.Registerer) *Discoverer {
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Resolvers == nil {
		o.Resolvers = resolver.NewPool(resolver.Options{Now: o.Now}, nil)
	}
	d := &Discoverer{
		o: o, metrics: metrics,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_discovery_errors_total",
			Help: "DNS discovery lookups that failed, by entry and reason (an rcode such as SERVFAIL or REFUSED, timeout or unreachable); the last good answer is kept.",
		}, []string{"target", "reason"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_discovery_lookups_total",
			Help: "DNS discovery lookups, by entry.",
		}, []string{"target"}),
	}
	if reg != nil {
		reg.MustRegister(d.errors, d.lookups)
	}
	return d
}

// Start discovers an entry's dns: block until ctx ends.
func (d *Discoverer) Start(ctx context.Context, entry string, block config.Source, send func(discovery.Group)) (discovery.Running, error) {
	c, ok := block.(*Config)
	if !ok {
		return nil, fmt.Errorf("dns: block of type %T", block)
	}
	r, err := d.resolver(c)
	if err != nil {
		return nil, err
	}
	run := &running{d: d, entry: entry, c: c, r: r, send: send, resync: make(chan struct{}, 1), done: make(chan struct{}), last: map[string]discovery.Group{}}
	go run.loop(ctx)
	return run, nil
}

// resolver is the shared resolver asking the block's nameservers, or
// resolv.conf's: the same one its targets' names resolve through when
// they are probed.
func (d *Discoverer) resolver(c *Config) (*resolver.Resolver, error) {
	var base resolver.Config
	if d.o.Resolv != nil {
		base = *d.o.Resolv
	} else {
		var err error
		base, err = resolver.FromResolvConf(d.o.ResolvConf)
		if err != nil && len(c.Nameservers) == 0 {
			return nil, fmt.Errorf("dns: no nameservers given and %w", err)
		}
	}
	return d.o.Resolvers.Resolver(base.WithServers(c.Nameservers)), nil
}

type running struct {
	d      *Discoverer
	entry  string
	c      *Config
	r      *resolver.Resolver
	send   func(discovery.Group)
	resync chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	last map[string]discovery.Group // by name: the last good answer
	// synced: the last refresh answered for every name (Synced).
	synced atomic.Bool
}

func (r *running) Wait()        { <-r.done }
func (r *running) Synced() bool { return r.synced.Load() }
func (r *running) Resync()      { sendOne(r.resync) }

func sendOne(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// minRefresh is the shortest refresh a short TTL can ask for.
const minRefresh = time.Second

func (r *running) loop(ctx context.Context) {
	defer close(r.done)
	defer r.d.metrics.Forget(r.entry, mechanism)
	defer r.d.errors.DeletePartialMatch(prometheus.Labels{"target": r.entry})
	defer r.d.lookups.DeleteLabelValues(r.entry)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.resync:
			r.mu.Lock()
			for _, g := range r.last {
				r.send(g)
			}
			r.mu.Unlock()
			continue
		case <-t.C:
		}
		next := r.refresh(ctx)
		t.Reset(next)
	}
}

// refresh looks every name up once, sends what changed, and returns when
// to look again.
func (r *running) refresh(ctx context.Context) time.Duration {
	next := r.c.refresh()
	healthy := true
	for _, name := range r.c.Names {
		g, ttl, err := r.lookup(ctx, name)
		if ctx.Err() != nil {
			return next
		}
		if err != nil {
			healthy = false
			r.d.errors.WithLabelValues(r.entry, resolver.Reason(err)).Inc()
			r.d.o.Logger.Warn("DNS discovery failed; keeping the last answer", "target", r.entry, "name", name, "err", err)
			continue
		}
		if ttl > 0 && ttl < next {
			next = max(ttl, minRefresh)
		}
		r.mu.Lock()
		old, seen := r.last[name]
		r.last[name] = g
		r.mu.Unlock()
		if n := g.Skipped[discovery.SkipInvalidHost]; n > 0 && old.Skipped[discovery.SkipInvalidHost] != n {
			r.d.o.Logger.Warn("DNS discovery: answers that are not host names are skipped", "target", r.entry, "name", name, "skipped", n)
		}
		if !seen || !sameGroup(old, g) {
			r.send(g)
		}
	}
	r.synced.Store(healthy)
	r.mu.Lock()
	skipped := map[string]int{}
	for _, g := range r.last {
		for reason, n := range g.Skipped {
			skipped[reason] += n
		}
	}
	r.mu.Unlock()
	r.d.metrics.SetSkipped(r.entry, mechanism, skipReasons, skipped)
	return next
}

// skipReasons are the reasons this source skips an answer for.
var skipReasons = []string{discovery.SkipInvalidHost}

// lookup is one name's group and the shortest TTL it was answered with.
func (r *running) lookup(ctx context.Context, name string) (discovery.Group, time.Duration, error) {
	g := discovery.Group{Source: "dns/" + r.entry + "/" + name}
	names, _ := expand(name)
	if len(names) > 1 || strings.Contains(name, "{") {
		// Resolved when probed: every pod is a target, in DNS or not.
		for _, n := range names {
			g.Targets = append(g.Targets, discovery.Target{ID: discovery.IDOf(n), Host: strings.TrimSuffix(n, "."), Port: r.c.Port,
				Meta: map[string]string{"__meta_dns_name": n}})
		}
		g.DropInvalidHosts()
		return g, 0, nil
	}
	r.d.lookups.WithLabelValues(r.entry).Inc()
	qtype := map[string]uint16{TypeSRV: mdns.TypeSRV, TypeA: mdns.TypeA, TypeAAAA: mdns.TypeAAAA, TypeMX: mdns.TypeMX, TypeNS: mdns.TypeNS}[r.c.Type]
	answers, ttl, err := r.r.Lookup(ctx, name, qtype)
	if err != nil {
		return g, 0, err
	}
	for _, rr := range answers {
		meta := map[string]string{"__meta_dns_name": name}
		switch rec := rr.(type) {
		case *mdns.SRV:
			target := strings.TrimSuffix(rec.Target, ".")
			meta["__meta_dns_srv_record_target"] = rec.Target
			meta["__meta_dns_srv_record_port"] = strconv.Itoa(int(rec.Port))
			g.Targets = append(g.Targets, discovery.Target{ID: discovery.IDOf(target, strconv.Itoa(int(rec.Port))), Host: target, Port: int32(rec.Port), Meta: meta})
		case *mdns.MX:
			meta["__meta_dns_mx_record_target"] = rec.Mx
			g.Targets = append(g.Targets, named(rec.Mx, r.c.Port, meta))
		case *mdns.NS:
			meta["__meta_dns_ns_record_target"] = rec.Ns
			g.Targets = append(g.Targets, named(rec.Ns, r.c.Port, meta))
		case *mdns.A:
			g.Targets = append(g.Targets, discovery.Target{ID: discovery.IDOf(rec.A.String()), Host: rec.A.String(), Port: r.c.Port, Meta: meta})
		case *mdns.AAAA:
			g.Targets = append(g.Targets, discovery.Target{ID: discovery.IDOf(rec.AAAA.String()), Host: rec.AAAA.String(), Port: r.c.Port, Meta: meta})
		}
	}
	// Names in answers are untrusted: a target's name reaches its address
	// label and an exec probe's $(PROBE_HOST) (Go's resolver refuses
	// such answers too, CVE-2021-33195).
	g.DropInvalidHosts()
	slices.SortFunc(g.Targets, func(a, b discovery.Target) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return g, ttl, nil
}

// named is a target whose host is a record's name (an MX's or NS's),
// resolved when probed.
func named(name string, port int32, meta map[string]string) discovery.Target {
	host := strings.TrimSuffix(name, ".")
	return discovery.Target{ID: discovery.IDOf(host), Host: host, Port: port, Meta: meta}
}

func sameGroup(a, b discovery.Group) bool {
	return slices.EqualFunc(a.Targets, b.Targets, func(x, y discovery.Target) bool {
		return x.ID == y.ID && x.Host == y.Host && x.Port == y.Port
	})
}
