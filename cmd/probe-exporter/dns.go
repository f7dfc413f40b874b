package main

import (
	"log/slog"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/resolver"
)

// dnsSettings are the resolver's flags: every name a probe dials, and
// every dns: entry, resolves through one resolver built from them.
type dnsSettings struct {
	resolvConf, hostsFile string
	cacheSize             *int
}

func addDNSFlags(app *kingpin.Application) *dnsSettings {
	s := &dnsSettings{}
	app.Flag("dns.resolv-conf", "resolv.conf to read nameservers, search list, ndots, timeout and attempts from (missing: 127.0.0.1 and ::1).").Default("/etc/resolv.conf").StringVar(&s.resolvConf)
	app.Flag("dns.hosts-file", "Hosts file read before DNS is asked, as the stub resolver does; empty: none.").Default("/etc/hosts").StringVar(&s.hostsFile)
	s.cacheSize = positiveInt(app.Flag("dns.cache-size", "Most DNS answers kept (each for its TTL, negative ones for their SOA minimum); 0 keeps none.").Default("10000"), "--dns.cache-size", 0)
	return s
}

// network is the shared resolver pool and its default configuration.
type network struct {
	pool *resolver.Pool
	conf resolver.Config
}

func (s *dnsSettings) network(reg prometheus.Registerer, logger *slog.Logger) network {
	conf, err := resolver.FromResolvConf(s.resolvConf)
	if err != nil {
		logger.Warn("cannot read resolv.conf; asking the local nameserver", "file", s.resolvConf, "err", err)
	}
	conf.HostsFile = s.hostsFile
	return network{pool: resolver.NewPool(resolver.Options{CacheSize: *s.cacheSize}, reg), conf: conf}
}
