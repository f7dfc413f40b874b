package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock for TTL tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newResolver(t *testing.T, cacheSize int, servers ...string) (*Resolver, *prometheus.Registry, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1e9, 0)}
	reg := prometheus.NewRegistry()
	p := NewPool(Options{CacheSize: cacheSize, Now: clk.now}, reg)
	return p.Resolver(Config{Servers: servers, Ndots: 1, Timeout: 2 * time.Second, Attempts: 1}), reg, clk
}

func lookup(r *Resolver, name string, f Family, timeout time.Duration) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.LookupAddrs(ctx, name, f)
}

func addrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// families is a zone with a name of each address family, and one of both.
func families() *dnstest.Zone {
	z := dnstest.NewZone()
	z.Set("v4.test. A", "v4.test. 30 IN A 192.0.2.1")
	z.Set("v6.test. AAAA", "v6.test. 30 IN AAAA 2001:db8::1")
	z.Set("dual.test. A", "dual.test. 30 IN A 192.0.2.2", "dual.test. 30 IN A 192.0.2.3")
	z.Set("dual.test. AAAA", "dual.test. 30 IN AAAA 2001:db8::2")
	return z
}

// TestLookupAddrs: answers and the reason a failure gives, one server.
func TestLookupAddrs(t *testing.T) {
	z := families()
	z.Set("alias.test. CNAME", "alias.test. 30 IN CNAME v4.test.")
	z.Set("broken.test. A", "broken.test. 30 IN A 192.0.2.4")
	z.Fail("broken.test. A", mdns.RcodeServerFailure)
	z.Fail("broken.test. AAAA", mdns.RcodeServerFailure)
	z.Set("closed.test. A", "closed.test. 30 IN A 192.0.2.5")
	z.Fail("closed.test. A", mdns.RcodeRefused)
	z.Fail("closed.test. AAAA", mdns.RcodeRefused)
	z.Set("half.test. A", "half.test. 30 IN A 192.0.2.6")
	z.Fail("half.test. AAAA", mdns.RcodeServerFailure)
	r, _, _ := newResolver(t, 0, dnstest.Serve(t, z))
	for _, c := range []struct {
		name   string
		family Family
		want   string // addresses, or the reason
	}{
		{"v4.test", AnyFamily, "192.0.2.1"},
		{"v6.test", AnyFamily, "2001:db8::1"},
		{"dual.test", AnyFamily, "192.0.2.2,192.0.2.3,2001:db8::2"},
		{"dual.test", IPv4, "192.0.2.2,192.0.2.3"},
		{"dual.test", IPv6, "2001:db8::2"},
		{"alias.test", AnyFamily, "192.0.2.1"},
		{"v4.test", IPv6, NoData},
		{"missing.test", AnyFamily, NXDOMAIN},
		{"broken.test", AnyFamily, "SERVFAIL"},
		{"closed.test", AnyFamily, "REFUSED"},
		// One type failing doesn't hide the other's addresses, as in
		// the stub resolver.
		{"half.test", AnyFamily, "192.0.2.6"},
		{"192.0.2.77", IPv6, "192.0.2.77"},
	} {
		got, err := lookup(r, c.name, c.family, time.Second)
		if err != nil {
			if reason := Reason(err); reason != c.want {
				t.Errorf("%s %v: %v (reason %s), want %s", c.name, c.family, err, reason, c.want)
			}
			if !strings.HasPrefix(err.Error(), "lookup "+c.name+" on ") {
				t.Errorf("%s: error %q does not name the name and the server", c.name, err)
			}
			continue
		}
		if addrs(got) != c.want {
			t.Errorf("%s %v: %s, want %s", c.name, c.family, addrs(got), c.want)
		}
	}
}

// TestLikeGoResolver: the same names through Go's own resolver (pointed
// at the same server) and through ours give the same addresses, and
// fail alike.
func TestLikeGoResolver(t *testing.T) {
	z := families()
	z.Set("alias.test. CNAME", "alias.test. 30 IN CNAME dual.test.")
	z.Set("txt.test. TXT", `txt.test. 30 IN TXT "no addresses"`)
	z.Set("half.test. A", "half.test. 30 IN A 192.0.2.6")
	z.Fail("half.test. AAAA", mdns.RcodeServerFailure)
	z.Set("broken.test. A", "broken.test. 30 IN A 192.0.2.4")
	z.Fail("broken.test. A", mdns.RcodeServerFailure)
	z.Fail("broken.test. AAAA", mdns.RcodeServerFailure)
	server := dnstest.Serve(t, z)
	ours, _, _ := newResolver(t, 0, server)
	goRes := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	// Absolute names: Go's resolver reads this host's resolv.conf for
	// its search list, which the test doesn't control.
	for _, name := range []string{"v4.test.", "v6.test.", "dual.test.", "alias.test.", "txt.test.", "missing.test.", "half.test.", "broken.test."} {
		for _, f := range []struct {
			family  Family
			network string
		}{{AnyFamily, "ip"}, {IPv4, "ip4"}, {IPv6, "ip6"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			want, werr := goRes.LookupNetIP(ctx, f.network, name)
			cancel()
			got, gerr := lookup(ours, name, f.family, 2*time.Second)
			slices.SortFunc(want, func(a, b netip.Addr) int { return a.Compare(b) })
			slices.SortFunc(got, func(a, b netip.Addr) int { return a.Compare(b) })
			if addrs(got) != addrs(want) || (gerr == nil) != (werr == nil) {
				t.Errorf("%s %s: ours %s %v, Go's %s %v", name, f.network, addrs(got), gerr, addrs(want), werr)
				continue
			}
			var gd, wd *net.DNSError
			if gerr != nil && errors.As(gerr, &gd) && errors.As(werr, &wd) && (gd.IsNotFound != wd.IsNotFound || gd.IsTemporary != wd.IsTemporary) {
				t.Errorf("%s %s: ours not-found=%v temporary=%v (%v), Go's %v %v (%v)", name, f.network, gd.IsNotFound, gd.IsTemporary, gerr, wd.IsNotFound, wd.IsTemporary, werr)
			}
		}
	}
}

// TestFailover: a server that never answers and one that refuses leave a
// third time to answer inside a short deadline; then the failing ones
// are asked last, and only that server is asked again.
func TestFailover(t *testing.T) {
	silent := dnstest.NewZone()
	silent.Silent = true
	refusing := dnstest.NewZone()
	refusing.Fail("db.test. A", mdns.RcodeRefused)
	refusing.Fail("other.test. A", mdns.RcodeRefused)
	good := dnstest.NewZone()
	good.Set("db.test. A", "db.test. 30 IN A 192.0.2.9")
	good.Set("other.test. A", "other.test. 30 IN A 192.0.2.10")
	silentNS := dnstest.Serve(t, silent)
	r, reg, _ := newResolver(t, 0, silentNS, dnstest.Serve(t, refusing), dnstest.Serve(t, good))
	start := time.Now()
	got, err := lookup(r, "db.test", IPv4, time.Second)
	if err != nil || addrs(got) != "192.0.2.9" {
		t.Fatalf("through the third server: %s %v", addrs(got), err)
	}
	if took := time.Since(start); took > 1100*time.Millisecond {
		t.Errorf("took %v of a 1 s deadline", took)
	}
	before := silent.Total()
	if got, err := lookup(r, "other.test", IPv4, time.Second); err != nil || addrs(got) != "192.0.2.10" {
		t.Fatalf("second lookup: %s %v", addrs(got), err)
	}
	if silent.Total() != before {
		t.Errorf("the silent server was asked first again")
	}
	if n := testutil.ToFloat64(r.pool.m.timeouts.WithLabelValues(silentNS)); n != 1 {
		t.Errorf("timeouts counted: %v", n)
	}
	if n := testutil.ToFloat64(r.pool.m.responses.WithLabelValues(r.c.Servers[1], "REFUSED")); n != 2 {
		t.Errorf("REFUSED responses counted: %v, want 2 (a refusal is about a name: the server is not asked last)", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

// TestTimeout: a lookup against servers that never answer ends with its
// deadline and says timeout.
func TestTimeout(t *testing.T) {
	silent := dnstest.NewZone()
	silent.Silent = true
	r, _, _ := newResolver(t, 0, dnstest.Serve(t, silent), dnstest.Serve(t, silent))
	start := time.Now()
	_, err := lookup(r, "db.test", AnyFamily, 300*time.Millisecond)
	took := time.Since(start)
	if Reason(err) != Timeout {
		t.Errorf("error %v, want a timeout", err)
	}
	var de *net.DNSError
	if !errors.As(err, &de) || !de.Timeout() {
		t.Errorf("%v is not a net.Error timeout", err)
	}
	if took > 400*time.Millisecond {
		t.Errorf("took %v of a 300 ms deadline", took)
	}
}

// TestUnreachable: nothing listens on the server's port.
func TestUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	r, _, _ := newResolver(t, 0, addr)
	_, err = lookup(r, "db.test", IPv4, time.Second)
	if Reason(err) != Unreachable || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %v (%s), want unreachable (connection refused)", err, Reason(err))
	}
}

// TestTruncated: a truncated UDP answer is asked again over TCP.
func TestTruncated(t *testing.T) {
	z := dnstest.NewZone()
	z.Truncate = true
	z.Set("big.test. A", "big.test. 30 IN A 192.0.2.11")
	r, _, _ := newResolver(t, 0, dnstest.Serve(t, z))
	if got, err := lookup(r, "big.test", IPv4, time.Second); err != nil || addrs(got) != "192.0.2.11" {
		t.Fatalf("%s %v", addrs(got), err)
	}
	if z.Count("big.test. A tcp") != 1 {
		t.Errorf("tcp queries: %d", z.Count("big.test. A tcp"))
	}
	if n := testutil.ToFloat64(r.pool.m.queries.WithLabelValues(r.c.Servers[0], "tcp")); n != 1 {
		t.Errorf("tcp queries counted: %v", n)
	}
}

// TestCache: answers are kept for their TTL, negative ones for the
// SOA's minimum; failures and TTL 0 are not kept.
func TestCache(t *testing.T) {
	z := dnstest.NewZone()
	z.NegativeTTL = 10
	z.Set("db.test. A", "db.test. 30 IN A 192.0.2.12")
	z.Set("zero.test. A", "zero.test. 0 IN A 192.0.2.13")
	z.Set("bad.test. A", "bad.test. 30 IN A 192.0.2.14")
	z.Fail("bad.test. A", mdns.RcodeServerFailure)
	r, _, clk := newResolver(t, 100, dnstest.Serve(t, z))
	ask := func(name string) {
		t.Helper()
		_, _ = lookup(r, name, IPv4, time.Second)
	}
	for _, c := range []struct {
		name    string
		advance time.Duration
		queries int // the name's A queries by then
	}{
		{"db.test", 0, 1},
		{"db.test", 29 * time.Second, 1},
		{"db.test", 2 * time.Second, 2}, // TTL 30 s ran out
		{"zero.test", 0, 1},
		{"zero.test", 0, 2},
		{"gone.test", 0, 1},
		{"gone.test", 9 * time.Second, 1},
		{"gone.test", 2 * time.Second, 2}, // negative TTL 10 s ran out
		{"bad.test", 0, 1},
		{"bad.test", 0, 2},
	} {
		clk.add(c.advance)
		ask(c.name)
		if n := z.Count(c.name + ". A"); n != c.queries {
			t.Errorf("after %s at +%v: %d queries, want %d", c.name, c.advance, n, c.queries)
		}
	}
	hits := r.pool.m.cacheHits
	if p, n := testutil.ToFloat64(hits.WithLabelValues("positive")), testutil.ToFloat64(hits.WithLabelValues("negative")); p != 1 || n != 1 {
		t.Errorf("cache hits positive %v negative %v, want 1 and 1", p, n)
	}
}

// TestCacheBound: the cache holds at most its size; the least recently
// used goes.
func TestCacheBound(t *testing.T) {
	z := dnstest.NewZone()
	for _, n := range []string{"a", "b", "c"} {
		z.Set(n+".test. A", n+".test. 300 IN A 192.0.2.20")
	}
	r, reg, _ := newResolver(t, 2, dnstest.Serve(t, z))
	for _, n := range []string{"a", "b", "a", "c", "a", "b"} {
		if _, err := lookup(r, n+".test", IPv4, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// a is asked once (kept as most recently used); b twice (pushed out
	// by c).
	if qa, qb := z.Count("a.test. A"), z.Count("b.test. A"); qa != 1 || qb != 2 {
		t.Errorf("queries a=%d b=%d, want 1 and 2", qa, qb)
	}
	if n := r.pool.cache.len(); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "probe_exporter_dns_cache_evictions_total"); n != 1 {
		t.Errorf("evictions series: %d", n)
	}
}

// TestSearchList: a name with fewer dots than ndots goes through the
// search list first, then as is; one with more is asked as is first.
func TestSearchList(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("db.shop.svc.cluster.local. A", "db.shop.svc.cluster.local. 30 IN A 192.0.2.30")
	z.Set("db.shop. A", "db.shop. 30 IN A 192.0.2.31")
	p := NewPool(Options{}, nil)
	r := p.Resolver(Config{Servers: []string{dnstest.Serve(t, z)}, Search: []string{"svc.cluster.local", "cluster.local"}, Ndots: 5, Timeout: time.Second, Attempts: 1})
	if got, err := lookup(r, "db.shop", IPv4, time.Second); err != nil || addrs(got) != "192.0.2.30" {
		t.Errorf("ndots 5: %s %v, want the search list's answer", addrs(got), err)
	}
	r = p.Resolver(Config{Servers: r.c.Servers, Search: r.c.Search, Ndots: 1, Timeout: time.Second, Attempts: 1})
	if got, err := lookup(r, "db.shop", IPv4, time.Second); err != nil || addrs(got) != "192.0.2.31" {
		t.Errorf("ndots 1: %s %v, want the name as is", addrs(got), err)
	}
	if got, err := lookup(r, "nothing", IPv4, time.Second); Reason(err) != NXDOMAIN || !strings.Contains(err.Error(), "lookup nothing on") {
		t.Errorf("nothing anywhere: %s %v", addrs(got), err)
	}
	for _, c := range []struct {
		name  string
		ndots int
		want  string
	}{
		{"db", 1, "db.svc.cluster.local.,db.cluster.local.,db."},
		{"db.shop", 1, "db.shop.,db.shop.svc.cluster.local.,db.shop.cluster.local."},
		{"db.shop", 5, "db.shop.svc.cluster.local.,db.shop.cluster.local.,db.shop."},
		{"db.shop.", 5, "db.shop."},
	} {
		r := p.Resolver(Config{Servers: []string{"127.0.0.1:1"}, Search: []string{"svc.cluster.local", "cluster.local"}, Ndots: c.ndots})
		if got := strings.Join(r.candidates(c.name), ","); got != c.want {
			t.Errorf("candidates(%q) with ndots %d: %s, want %s", c.name, c.ndots, got, c.want)
		}
	}
}

// TestResolvConf: servers, search list, ndots, timeout and attempts are
// read from resolv.conf; a missing file gives the defaults and an error.
func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 10.96.0.10\nnameserver fd00::10\nsearch shop.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:1 attempts:3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := FromResolvConf(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Servers, ","); got != "10.96.0.10:53,[fd00::10]:53" {
		t.Errorf("servers %s", got)
	}
	if c.Ndots != 5 || c.Timeout != time.Second || c.Attempts != 3 || len(c.Search) != 2 {
		t.Errorf("config %+v", c)
	}
	w := c.WithServers([]string{"192.0.2.53:5353"})
	if len(w.Search) != 0 || w.Ndots != 1 || w.Timeout != time.Second {
		t.Errorf("with an entry's servers: %+v", w)
	}
	d, err := FromResolvConf(filepath.Join(dir, "none"))
	if err == nil || strings.Join(d.Servers, ",") != "127.0.0.1:53,[::1]:53" {
		t.Errorf("missing resolv.conf: %+v %v", d, err)
	}
}

// TestHostsFile: the hosts file answers before DNS, and an edit to it is
// seen.
func TestHostsFile(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("db.test. A", "db.test. 30 IN A 192.0.2.40")
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# comment\n192.0.2.41 db.test db # alias\n2001:db8::41 db.test\nbogus line\n")
	clk := &clock{t: time.Unix(1e9, 0)}
	p := NewPool(Options{Now: clk.now}, nil)
	r := p.Resolver(Config{Servers: []string{dnstest.Serve(t, z)}, Ndots: 1, Timeout: time.Second, HostsFile: path})
	if got, err := lookup(r, "DB.test.", AnyFamily, time.Second); err != nil || addrs(got) != "192.0.2.41,2001:db8::41" {
		t.Errorf("from the hosts file: %s %v", addrs(got), err)
	}
	if got, _ := lookup(r, "db", IPv4, time.Second); addrs(got) != "192.0.2.41" {
		t.Errorf("alias: %s", addrs(got))
	}
	if z.Total() != 0 {
		t.Errorf("DNS was asked %d times", z.Total())
	}
	write("192.0.2.42 other.test\n")
	clk.add(hostsRecheck)
	if got, err := lookup(r, "db.test", AnyFamily, time.Second); err != nil || addrs(got) != "192.0.2.40" {
		t.Errorf("after the edit, from DNS: %s %v", addrs(got), err)
	}
}

// TestOneQueryForConcurrentLookups: lookups of one name at once share a
// query; one whose own deadline ends first gives up alone.
func TestOneQueryForConcurrentLookups(t *testing.T) {
	z := dnstest.NewZone()
	z.Delay = 200 * time.Millisecond
	z.Set("db.test. A", "db.test. 30 IN A 192.0.2.50")
	r, _, _ := newResolver(t, 0, dnstest.Serve(t, z))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := lookup(r, "db.test", IPv4, 2*time.Second)
			if err == nil && addrs(got) != "192.0.2.50" {
				err = errors.New(addrs(got))
			}
			errs <- err
		}()
	}
	await.True(t, "the first query", func() bool { return z.Count("db.test. A") == 1 })
	_, short := lookup(r, "db.test", IPv4, 50*time.Millisecond)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if Reason(short) != Timeout {
		t.Errorf("the short lookup: %v", short)
	}
	if n := z.Count("db.test. A"); n != 1 {
		t.Errorf("%d queries for 51 lookups", n)
	}
}

func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "SERVFAIL"}, "SERVFAIL"},
		{&net.DNSError{Err: "unreachable (read: connection refused)"}, Unreachable},
		{&net.DNSError{Err: "timeout (cancelled)"}, Timeout},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: NXDOMAIN}}, NXDOMAIN},
		{&net.DNSError{Err: "no such host"}, "error"},
		{errors.New("x"), "error"},
	} {
		if got := Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
