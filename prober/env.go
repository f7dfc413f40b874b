package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/resolver"
)

// Dialer opens probe connections (a *net.Dialer; a test's own).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// EnvOptions configure an Env.
type EnvOptions struct {
	// Dialer opens every connection a probe makes; default: a plain
	// net.Dialer (see NewDialer).
	Dialer Dialer
	// Version is the exporter's version, for the User-Agent.
	Version string
	// ExecEnv names variables of the exporter's environment that exec
	// commands get besides PATH and their PROBE_* variables.
	ExecEnv []string
	// Reaper, when set, kills what exec commands leave behind outside
	// their process group (see Reaper).
	Reaper *Reaper
	// Resolvers, when set, resolve every name a probe dials (see
	// resolvingDialer), with Resolv as the default configuration; nil
	// leaves names to Go's stub resolver (unit tests).
	Resolvers *resolver.Pool
	Resolv    resolver.Config
}

// Network is how an entry's probes resolve names: its own nameservers
// (a dns: block's) or resolv.conf's, and the address family it wants.
type Network struct {
	Servers []string
	Family  resolver.Family
}

func (n Network) key() string { return strings.Join(n.Servers, ",") + "|" + n.Family.String() }

// String is n for an identity: "" for the default network.
func (n Network) String() string {
	if len(n.Servers) == 0 && n.Family == resolver.AnyFamily {
		return ""
	}
	return "|" + n.key()
}

// Env is what every prober shares: the dialer, the HTTP transports built
// on it and the User-Agent. It is made once and handed to whatever builds
// probers, so nothing about a probe's network lives in a package global.
type Env struct {
	base      Dialer // without name resolution
	dialer    Dialer
	userAgent string
	// transport is the kubelet's probe transport: every httpGet probe
	// shares it; with keep-alives off it holds no per-target state.
	transport http.RoundTripper
	execBase  []string
	// execRedact holds execBase's passed values, for every exec prober.
	execRedact redactor
	reaper     *Reaper

	resolvers *resolver.Pool
	resolv    resolver.Config
	// resolver is this Env's (nil: Go's stub resolver in the dialer).
	resolver *resolver.Resolver
	family   resolver.Family
	networks *networks // shared by an Env and every Env For makes of it
}

// networks are the Envs For made, by Network, so that entries asking
// for the same share one transport.
type networks struct {
	mu sync.Mutex
	by map[string]*Env
}

// NewEnv builds an Env.
func NewEnv(o EnvOptions) *Env {
	if o.Dialer == nil {
		o.Dialer = NewDialer()
	}
	e := &Env{base: o.Dialer, userAgent: userAgent(o.Version), execBase: execBase(o.ExecEnv), reaper: o.Reaper,
		resolvers: o.Resolvers, resolv: o.Resolv, networks: &networks{by: map[string]*Env{}}}
	e.execRedact = execSecrets(e.execBase)
	e.setNetwork(Network{})
	e.networks.by[Network{}.key()] = e
	return e
}

// For is e with probes resolving names as n says.
func (e *Env) For(n Network) *Env {
	e.networks.mu.Lock()
	defer e.networks.mu.Unlock()
	if ne, ok := e.networks.by[n.key()]; ok {
		return ne
	}
	ne := *e
	ne.setNetwork(n)
	e.networks.by[n.key()] = &ne
	return &ne
}

// setNetwork builds the dialer and transports for n.
func (e *Env) setNetwork(n Network) {
	e.dialer, e.resolver, e.family = e.base, nil, n.Family
	if e.resolvers != nil {
		e.resolver = e.resolvers.Resolver(e.resolv.WithServers(n.Servers))
		e.dialer = resolvingDialer{base: e.base, r: e.resolver, family: n.Family}
	}
	e.dialer = pinnedDialer{e.dialer}
	tlsTransport := &http.Transport{
		Proxy:              nil, // never a proxy, whatever HTTP_PROXY says
		DialContext:        attemptDialer{e.dialer}.DialContext,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet semantics
		DisableKeepAlives:  true,
		DisableCompression: true,
		// The kubelet's 10 s; the attempt's own deadline, which
		// attemptDialer puts on the connection, comes first.
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		// HTTP/2 only through ALPN on https, unless DISABLE_HTTP2 is set
		// (the kubelet's own switch).
		ForceAttemptHTTP2: os.Getenv("DISABLE_HTTP2") == "",
	}
	e.transport = &oneShotTransport{dialer: e.dialer, tls: tlsTransport}
}

// UserAgent is what probes send when they set no User-Agent header.
func (e *Env) UserAgent() string { return e.userAgent }

// New builds the prober for a defaulted, validated probe definition. Its
// clients are built here, once, and shared by every target and attempt
// (blackbox_exporter spends most of its CPU re-creating them).
func (e *Env) New(p *probe.Probe) (Prober, error) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	switch h := p.Handler().(type) {
	case *probe.HTTPGetAction:
		return newHTTP(h, e), nil
	case *probe.TCPSocketAction:
		return &tcpProber{host: h.Host, port: h.Port, dialer: e.dialer}, nil
	case *probe.ExecAction:
		return &execProber{command: h.Command, timeout: timeout, base: e.execBase, redact: e.execRedact, reaper: e.reaper}, nil
	case *probe.GRPCAction:
		return newGRPC(h, timeout, e), nil
	}
	return nil, errors.New("probe has no handler")
}

// userAgent keeps the kubelet's "kube-probe/<major>.<minor>" prefix, which
// applications filter their access logs on, and names this exporter and
// its version as a second product token. The Kubernetes version is the
// one whose probe semantics we follow.
func userAgent(version string) string {
	if version == "" {
		return "kube-probe/1.36 probe-exporter"
	}
	return "kube-probe/1.36 probe-exporter/" + version
}

// attemptKey carries an attempt's context to attemptDialer.
type attemptKey struct{}

// withAttempt marks ctx as an attempt's, for attemptDialer.
func withAttempt(ctx context.Context) context.Context {
	if _, ok := ctx.(*attemptCtx); ok {
		return ctx // answers attemptKey itself
	}
	return context.WithValue(ctx, attemptKey{}, ctx)
}

// attemptDialer keeps the standard transport's connections inside their
// attempt. net/http.Transport dials with the request's context detached
// from its cancellation (a later request might use the connection), so a
// black-holed dial or a stalled TLS handshake would run on for the
// dialer's and TLSHandshakeTimeout's 10 s after the attempt had ended.
// With keep-alives off no later request can use it: dial with the
// attempt's own context, put its deadline on the connection (the
// handshake fails with it), and cut the connection off when the attempt
// is cancelled.
type attemptDialer struct{ Dialer }

func (d attemptDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	attempt, ok := ctx.Value(attemptKey{}).(context.Context)
	if !ok {
		return d.Dialer.DialContext(ctx, network, address)
	}
	conn, err := d.Dialer.DialContext(attempt, network, address)
	if err != nil {
		return nil, err
	}
	if dl, ok := attempt.Deadline(); ok {
		// Just after the deadline: while a request waits on this
		// connection, the transport's own handling of the expired
		// context comes first and words the error as net/http does.
		_ = conn.SetDeadline(dl.Add(connBackstop))
	}
	// Cancelled before its deadline (shutdown, a reload): cut it now. The
	// attempt context always ends (Run cancels it), so this never outlives
	// the attempt, and a connection it cuts is finished with by then.
	context.AfterFunc(attempt, func() {
		if errors.Is(attempt.Err(), context.Canceled) {
			_ = conn.SetDeadline(time.Unix(1, 0))
		}
	})
	return conn, nil
}

// connBackstop is how long past its attempt's deadline a standard
// transport connection may live.
const connBackstop = 20 * time.Millisecond
