package prober

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/probe-exporter/probe-exporter/internal/dnstest"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/resolver"
)

// resolvingEnv is an Env whose probes resolve names through servers.
func resolvingEnv(t *testing.T, servers ...string) *Env {
	t.Helper()
	pool := resolver.NewPool(resolver.Options{CacheSize: 100}, nil)
	return NewEnv(EnvOptions{Resolvers: pool, Resolv: resolver.Config{Servers: servers, Ndots: 1, Timeout: 2 * time.Second, Attempts: 1}})
}

// TestProbesResolveNames: every probe type resolves its host through the
// shared resolver, inside its timeout, records the lookup's time, and
// words a failed lookup with the resolver's reason.
func TestProbesResolveNames(t *testing.T) {
	hs := health.NewServer()
	grpcPort := grpcServer(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hs) })
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Host, "svc.test:") && !strings.HasPrefix(r.Host, "multi.test:") {
			http.Error(w, "Host "+r.Host, http.StatusBadRequest)
		}
	}))
	defer web.Close()
	webPort, _ := strconv.Atoi(web.URL[strings.LastIndexByte(web.URL, ':')+1:])

	z := dnstest.NewZone()
	z.Set("svc.test. A", "svc.test. 30 IN A 127.0.0.1")
	// The first address refuses (nothing listens on 127.0.0.3): the next
	// is dialed, as net.Dialer does, gRPC included.
	z.Set("multi.test. A", "multi.test. 30 IN A 127.0.0.3", "multi.test. 30 IN A 127.0.0.1")
	z.Fail("broken.test. A", 2) // SERVFAIL
	z.Fail("broken.test. AAAA", 2)
	env := resolvingEnv(t, dnstest.Serve(t, z))
	silent := dnstest.NewZone()
	silent.Silent = true
	slowEnv := resolvingEnv(t, dnstest.Serve(t, silent))

	service := ""
	probes := map[string]*probe.Probe{
		"tcpSocket": {TCPSocket: &probe.TCPSocketAction{Port: intPort(webPort)}},
		"httpGet":   {HTTPGet: &probe.HTTPGetAction{Path: "/", Port: intPort(webPort), Scheme: "HTTP"}},
		"grpc":      {GRPC: &probe.GRPCAction{Port: int32(grpcPort), Service: &service}},
	}
	for name, def := range probes {
		for _, c := range []struct {
			host   string
			env    *Env
			want   Result
			output string // in the output
		}{
			{"svc.test", env, Success, ""},
			{"multi.test", env, Success, ""},
			{"gone.test", env, Failure, "dial tcp: lookup gone.test on "},
			{"broken.test", env, Failure, ": SERVFAIL"},
			{"svc.test", slowEnv, Failure, ": timeout"},
		} {
			if c.output == ": timeout" && name == "httpGet" {
				// The kubelet's client words every timeout so.
				c.output = "(Client.Timeout exceeded while awaiting headers)"
			}
			def.TimeoutSeconds = 1
			p, err := c.env.New(def)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			o := Run(context.Background(), p, &Target{Host: c.host}, 500*time.Millisecond, time.Now, nil)
			took := time.Since(start)
			if o.Result != c.want || o.Err != nil || !strings.Contains(o.Output, c.output) {
				t.Errorf("%s %s: %v %v %q, want %v with %q", name, c.host, o.Result, o.Err, o.Output, c.want, c.output)
			}
			if c.want == Failure && c.output != "" && strings.Contains(c.output, "lookup") && !strings.Contains(o.Output, "NXDOMAIN") {
				t.Errorf("%s %s: %q does not say NXDOMAIN", name, c.host, o.Output)
			}
			if !o.LookedUp || o.Lookup <= 0 || o.Lookup > took {
				t.Errorf("%s %s: lookup recorded %v %v (attempt took %v)", name, c.host, o.LookedUp, o.Lookup, took)
			}
			if took > 600*time.Millisecond {
				t.Errorf("%s %s: took %v of a 500 ms timeout", name, c.host, took)
			}
		}
		// An address needs no lookup.
		p, _ := env.New(def)
		if o := Run(context.Background(), p, &Target{Host: "127.0.0.1"}, time.Second, time.Now, nil); o.LookedUp {
			t.Errorf("%s: an IP address was looked up", name)
		}
	}
}

// TestIPFamily: an entry's ipFamily picks the addresses a name resolves
// to; with none, IPv4 addresses are dialed first and the next address is
// tried when one fails.
func TestIPFamily(t *testing.T) {
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer l6.Close()
	port := l6.Addr().(*net.TCPAddr).Port
	z := dnstest.NewZone()
	z.Set("dual.test. A", "dual.test. 30 IN A 127.0.0.1")
	z.Set("dual.test. AAAA", "dual.test. 30 IN AAAA ::1")
	env := resolvingEnv(t, dnstest.Serve(t, z))
	def := &probe.Probe{TCPSocket: &probe.TCPSocketAction{Port: intPort(port)}, TimeoutSeconds: 1}
	for _, c := range []struct {
		family resolver.Family
		want   Result
		output string
	}{
		{resolver.IPv6, Success, ""},
		{resolver.IPv4, Failure, "dial tcp 127.0.0.1:" + strconv.Itoa(port) + ": connect: connection refused"},
		// 127.0.0.1 refuses, ::1 answers.
		{resolver.AnyFamily, Success, ""},
	} {
		p, err := env.For(Network{Family: c.family}).New(def)
		if err != nil {
			t.Fatal(err)
		}
		o := Run(context.Background(), p, &Target{Host: "dual.test"}, time.Second, time.Now, nil)
		if o.Result != c.want || !strings.Contains(o.Output, c.output) {
			t.Errorf("ipFamily %q: %v %q, want %v %q", c.family, o.Result, o.Output, c.want, c.output)
		}
	}
	first, second := env.For(Network{Family: resolver.IPv4}), env.For(Network{Family: resolver.IPv4})
	if first != second {
		t.Error("equal networks don't share an Env")
	}
}
