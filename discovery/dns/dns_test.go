package dns

import (
	"context"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// groups collects what a discoverer sends, by source.
type groups struct {
	mu sync.Mutex
	by map[string]discovery.Group
}

func (g *groups) send(gr discovery.Group) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.by[gr.Source] = gr
}

func (g *groups) hosts() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, gr := range g.by {
		for _, t := range gr.Targets {
			out = append(out, net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))))
		}
	}
	sort.Strings(out)
	return out
}

// start runs a dns: block against the given nameservers.
func start(t *testing.T, c *Config, reg *prometheus.Registry) (*groups, *discovery.Metrics) {
	t.Helper()
	c.SetDefaults()
	m := discovery.NewMetrics(reg)
	d := New(Options{ResolvConf: filepath.Join(t.TempDir(), "none")}, m, reg)
	g := &groups{by: map[string]discovery.Group{}}
	ctx, cancel := context.WithCancel(context.Background())
	run, err := d.Start(ctx, "web", c, g.send)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); run.Wait() })
	// As the targets manager does: the synced metric is the run's word.
	m.ReportSynced(func() []discovery.EntrySynced {
		return []discovery.EntrySynced{{Entry: "web", Mechanism: mechanism, Synced: run.Synced()}}
	})
	return g, m
}

func synced(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "probe_exporter_discovery_synced" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func TestSRV(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("_http._tcp.web.shop. SRV",
		"_http._tcp.web.shop. 30 IN SRV 0 0 8080 web-0.web.shop.",
		"_http._tcp.web.shop. 30 IN SRV 0 0 8080 web-1.web.shop.")
	ns := dnstest.Serve(t, z)
	reg := prometheus.NewRegistry()
	g, _ := start(t, &Config{Names: []string{"_http._tcp.web.shop."}, Nameservers: []string{ns}, RefreshInterval: "1s"}, reg)
	await.True(t, "both SRV targets", func() bool { return strings.Join(g.hosts(), ",") == "web-0.web.shop:8080,web-1.web.shop:8080" })
	gr := g.by["dns/web/_http._tcp.web.shop."]
	if m := gr.Targets[0].Meta; m["__meta_dns_name"] != "_http._tcp.web.shop." || m["__meta_dns_srv_record_target"] != "web-0.web.shop." || m["__meta_dns_srv_record_port"] != "8080" {
		t.Errorf("meta labels %v", m)
	}
	if v := synced(t, reg); v != 1 {
		t.Errorf("synced %v", v)
	}

	// SERVFAIL: the last good answer stays, and synced says it is stale.
	z.Fail("_http._tcp.web.shop. SRV", mdns.RcodeServerFailure)
	await.True(t, "synced 0 on SERVFAIL", func() bool { return synced(t, reg) == 0 })
	if got := strings.Join(g.hosts(), ","); got != "web-0.web.shop:8080,web-1.web.shop:8080" {
		t.Errorf("a failed refresh changed the targets: %s", got)
	}
	// One pod gone from SRV: its target goes.
	z.Set("_http._tcp.web.shop. SRV", "_http._tcp.web.shop. 30 IN SRV 0 0 8080 web-1.web.shop.")
	await.True(t, "the remaining target only", func() bool { return strings.Join(g.hosts(), ",") == "web-1.web.shop:8080" })
	await.True(t, "synced again", func() bool { return synced(t, reg) == 1 })
	// NXDOMAIN: authoritative, everything goes.
	z.Delete("_http._tcp.web.shop. SRV")
	await.True(t, "no targets on NXDOMAIN", func() bool { return len(g.hosts()) == 0 })
}

func TestA(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("db.shop. A", "db.shop. 30 IN A 192.0.2.7", "db.shop. 30 IN A 192.0.2.8")
	z.Set("db.shop. AAAA", "db.shop. 30 IN AAAA 2001:db8::7")
	ns := dnstest.Serve(t, z)
	g, _ := start(t, &Config{Names: []string{"db.shop."}, Type: TypeA, Port: 5432, Nameservers: []string{ns}}, prometheus.NewRegistry())
	await.True(t, "both A targets", func() bool { return strings.Join(g.hosts(), ",") == "192.0.2.7:5432,192.0.2.8:5432" })
	g6, _ := start(t, &Config{Names: []string{"db.shop."}, Type: TypeAAAA, Port: 5432, Nameservers: []string{ns}}, prometheus.NewRegistry())
	await.True(t, "the AAAA target", func() bool { return strings.Join(g6.hosts(), ",") == "[2001:db8::7]:5432" })
}

// TestMXAndNS: a mail exchanger's or nameserver's name is the target,
// resolved when probed, on the block's port, with dns_sd's meta labels.
func TestMXAndNS(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("shop. MX", "shop. 30 IN MX 10 mx-1.shop.", "shop. 30 IN MX 20 mx-2.shop.")
	z.Set("shop. NS", "shop. 30 IN NS ns-1.shop.")
	ns := dnstest.Serve(t, z)
	for _, c := range []struct{ typ, want, label, target string }{
		{TypeMX, "mx-1.shop:25,mx-2.shop:25", "__meta_dns_mx_record_target", "mx-1.shop."},
		{TypeNS, "ns-1.shop:25", "__meta_dns_ns_record_target", "ns-1.shop."},
	} {
		g, _ := start(t, &Config{Names: []string{"shop."}, Type: c.typ, Port: 25, Nameservers: []string{ns}}, prometheus.NewRegistry())
		await.True(t, c.typ+" targets", func() bool { return strings.Join(g.hosts(), ",") == c.want })
		if m := g.by["dns/web/shop."].Targets[0].Meta; m[c.label] != c.target || m["__meta_dns_name"] != "shop." {
			t.Errorf("%s meta labels %v", c.typ, m)
		}
	}
}

// TestShortTTL: a TTL shorter than refreshInterval makes lookups that
// often (but not under a second).
func TestShortTTL(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("db.shop. A", "db.shop. 1 IN A 192.0.2.7")
	ns := dnstest.Serve(t, z)
	start(t, &Config{Names: []string{"db.shop."}, Type: TypeA, Port: 1, Nameservers: []string{ns}, RefreshInterval: "1h"}, prometheus.NewRegistry())
	await.True(t, "a second lookup within the hour (the TTL is 1 s)", func() bool { return z.Count("db.shop. A") >= 2 })
}

// TestTruncatedRetriesTCP: a truncated UDP answer is asked again over TCP.
func TestTruncatedRetriesTCP(t *testing.T) {
	z := dnstest.NewZone()
	z.Truncate = true
	z.Set("db.shop. A", "db.shop. 30 IN A 192.0.2.7")
	ns := dnstest.Serve(t, z)
	g, _ := start(t, &Config{Names: []string{"db.shop."}, Type: TypeA, Port: 1, Nameservers: []string{ns}}, prometheus.NewRegistry())
	await.True(t, "the answer over TCP", func() bool { return strings.Join(g.hosts(), ",") == "192.0.2.7:1" })
	if z.Count("db.shop. A tcp") == 0 {
		t.Error("no TCP query")
	}
}

// TestSecondNameserverTakesOver: a server that refuses, or one that never
// answers, and the next one answers.
func TestSecondNameserverTakesOver(t *testing.T) {
	bad := dnstest.NewZone()
	badNS := dnstest.Serve(t, bad)
	bad.Fail("db.shop. A", mdns.RcodeRefused)
	silent := dnstest.NewZone()
	silent.Silent = true
	silentNS := dnstest.Serve(t, silent)
	good := dnstest.NewZone()
	good.Set("db.shop. A", "db.shop. 30 IN A 192.0.2.9")
	goodNS := dnstest.Serve(t, good)
	g, _ := start(t, &Config{Names: []string{"db.shop."}, Type: TypeA, Port: 1, Nameservers: []string{badNS, silentNS, goodNS}}, prometheus.NewRegistry())
	await.True(t, "the third server's answer", func() bool { return strings.Join(g.hosts(), ",") == "192.0.2.9:1" })
}

// TestBraceRange: web-{0..2} makes one target per pod, resolved when
// probed, with no lookup here.
func TestBraceRange(t *testing.T) {
	z := dnstest.NewZone()
	ns := dnstest.Serve(t, z)
	g, _ := start(t, &Config{Names: []string{"web-{0..2}.web.shop.svc.cluster.local"}, Type: TypeA, Port: 8080, Nameservers: []string{ns}}, prometheus.NewRegistry())
	await.True(t, "three targets", func() bool { return len(g.hosts()) == 3 })
	if got := strings.Join(g.hosts(), ","); got != "web-0.web.shop.svc.cluster.local:8080,web-1.web.shop.svc.cluster.local:8080,web-2.web.shop.svc.cluster.local:8080" {
		t.Errorf("targets %s", got)
	}
	if n := z.Total(); n != 0 {
		t.Errorf("%d queries: a brace range resolves at probe time", n)
	}
}

func TestExpand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  bool
	}{
		{"a.b", "a.b", false},
		{"web-{0..2}.x", "web-0.x,web-1.x,web-2.x", false},
		{"web-{2..0}.x", "", true},
		{"web-{0..1}-{0..1}", "", true},
		{"web-{a..b}", "", true},
		{"web-{0..99999}", "", true},
		{"", "", true},
	} {
		got, err := expand(c.in)
		if (err != nil) != c.err || strings.Join(got, ",") != c.want {
			t.Errorf("expand(%q) = %v, %v", c.in, got, err)
		}
	}
}
