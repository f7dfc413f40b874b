package resolver

import (
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the resolver's own, shared by every Resolver of a Pool.
// The server label is a configured nameserver (resolv.conf's or an
// entry's): bounded by the config, never by what is probed.
type metrics struct {
	queries        *prometheus.CounterVec
	responses      *prometheus.CounterVec
	timeouts       *prometheus.CounterVec
	errors         *prometheus.CounterVec
	cacheHits      *prometheus.CounterVec
	cacheMisses    prometheus.Counter
	cacheEvictions prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_queries_total",
			Help: "DNS queries sent by the resolver that probes resolve names through, by nameserver and protocol (tcp after a truncated udp answer).",
		}, []string{"server", "protocol"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_responses_total",
			Help: "DNS responses received, by nameserver and rcode (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...).",
		}, []string{"server", "rcode"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_query_timeouts_total",
			Help: "DNS queries that got no answer in time, by nameserver.",
		}, []string{"server"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_query_errors_total",
			Help: "DNS queries that failed on the network other than by timing out (connection refused, a malformed answer), by nameserver.",
		}, []string{"server"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_dns_cache_hits_total",
			Help: "Lookups answered from the resolver's cache, by answer (positive, or negative: a cached NXDOMAIN or empty answer).",
		}, []string{"answer"}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "probe_exporter_dns_cache_misses_total",
			Help: "Lookups the resolver's cache could not answer.",
		}),
		cacheEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "probe_exporter_dns_cache_evictions_total",
			Help: "Live cache entries pushed out because the cache was full (--dns.cache-size).",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer, entries func() float64) {
	for _, v := range []string{"positive", "negative"} {
		m.cacheHits.WithLabelValues(v)
	}
	reg.MustRegister(m.queries, m.responses, m.timeouts, m.errors, m.cacheHits, m.cacheMisses, m.cacheEvictions,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "probe_exporter_dns_cache_entries",
			Help: "Answers the resolver's cache holds.",
		}, entries))
}

// rcodeName is a bounded label value for an rcode.
func rcodeName(rcode int) string {
	if s, ok := mdns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}
