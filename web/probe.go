package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probe-exporter/probe-exporter/allowlist"
	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/state"
)

// ProbeOptions are what /probe needs.
type ProbeOptions struct {
	// Config is the running configuration (its modules: and
	// probeEndpoint:), read at each request so that a reload applies.
	Config func() *config.Config
	// Probers builds a module's prober.
	Probers *prober.Env
	// Targets are the probes running now, for allowDiscovered.
	Targets state.Reader
	// Requests counts requests by result.
	Requests *prometheus.CounterVec
}

// NewProbeRequests is /probe's request counter, registered with reg.
func NewProbeRequests(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "probe_exporter_probe_requests_total",
		Help: "Requests to /probe by result: success, failure (the attempt ran), refused (403: not allowed), bad_request, busy (no slot before the deadline), disabled (no probeEndpoint block).",
	}, []string{"result"})
	for _, r := range []string{"success", "failure", "refused", "bad_request", "busy", "disabled"} {
		c.WithLabelValues(r)
	}
	reg.MustRegister(c)
	return c
}

// scrapeTimeoutOffset is taken off Prometheus' scrape timeout, as
// blackbox_exporter does, so that the answer arrives before it.
const scrapeTimeoutOffset = 500 * time.Millisecond

// probeHandler serves /probe?target=&module=[&debug=true]: one attempt of
// a module against a target the allowlist permits, answered with
// blackbox_exporter's gauges.
type probeHandler struct {
	o ProbeOptions

	mu    sync.Mutex
	ep    *config.ProbeEndpoint // what list and slots were made from
	list  *allowlist.List
	slots chan struct{}
}

// endpoint is ep's parsed allowlist and its slots, made again only when
// a reload brings another block (requests holding a slot of the old one
// give it back there).
func (h *probeHandler) endpoint(ep *config.ProbeEndpoint) (*allowlist.List, chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ep != ep {
		h.ep = ep
		h.list, _ = allowlist.Parse(ep.AllowedTargets) // validated at load
		if h.slots == nil || cap(h.slots) != int(ep.MaxConcurrent) {
			h.slots = make(chan struct{}, ep.MaxConcurrent)
		}
	}
	return h.list, h.slots
}

func (h *probeHandler) fail(w http.ResponseWriter, result string, code int, format string, args ...any) {
	h.o.Requests.WithLabelValues(result).Inc()
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (h *probeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := h.o.Config()
	ep := cfg.ProbeEndpoint
	if ep == nil {
		h.fail(w, "disabled", http.StatusNotFound, "/probe is off: the configuration has no probeEndpoint: block (README: \"/probe\").")
		return
	}
	q := r.URL.Query()
	// No module: blackbox_exporter's http_2xx, or probeEndpoint.defaultModule.
	moduleName, rawTarget, hostname := cfg.ModuleFor(q.Get("module")), q.Get("target"), q.Get("hostname")
	module, ok := cfg.Modules[moduleName]
	switch {
	case rawTarget == "":
		h.fail(w, "bad_request", http.StatusBadRequest, "target parameter is missing")
		return
	case moduleName == "":
		h.fail(w, "bad_request", http.StatusBadRequest, "module parameter is missing, and there is no default: name one, set probeEndpoint.defaultModule, or define a module named %s (blackbox_exporter's default)", config.BlackboxDefaultModule)
		return
	case !ok:
		h.fail(w, "bad_request", http.StatusBadRequest, "unknown module %q", moduleName)
		return
	}
	timeout, budget, err := probeTimeout(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), time.Duration(module.TimeoutSeconds)*time.Second)
	if err != nil {
		// blackbox_exporter's status and words.
		h.fail(w, "bad_request", http.StatusInternalServerError, "Failed to parse timeout from Prometheus header: %v", err)
		return
	}
	def, target, err := moduleFor(module, rawTarget)
	if err != nil {
		h.fail(w, "bad_request", http.StatusBadRequest, "target %q: %v", rawTarget, err)
		return
	}
	if hostname != "" && def.HTTPGet != nil {
		if def, err = withHostname(def, hostname); err != nil {
			h.fail(w, "bad_request", http.StatusBadRequest, "%v", err)
			return
		}
	}
	port := int(target.Port)
	list, slots := h.endpoint(ep)
	adm, refusal := list.Host(target.Host, port)
	if refusal != nil && !ep.AllowDiscovered {
		h.fail(w, "refused", http.StatusForbidden, "refused: %v", refusal)
		return
	}
	discovered := false
	var trace strings.Builder
	var lastDialed netip.AddrPort
	var dialMu sync.Mutex
	guard := func(ap netip.AddrPort) error {
		err := list.Addr(ap, adm)
		if discovered && err != nil && h.discovered(ap.Addr().String(), int(ap.Port())) {
			err = nil
		}
		dialMu.Lock()
		defer dialMu.Unlock()
		if err != nil {
			fmt.Fprintf(&trace, "dial %s: refused: %v\n", ap, err)
			return fmt.Errorf("refused by probeEndpoint: %w", err)
		}
		lastDialed = ap
		fmt.Fprintf(&trace, "dial %s: allowed\n", ap)
		return nil
	}

	// A slot is waited for only while a whole attempt still fits in the
	// request's budget: one that starts later would run short and blame
	// the target for the exporter being busy.
	if !acquire(r.Context(), slots, budget-timeout) {
		h.fail(w, "busy", http.StatusServiceUnavailable, "/probe is busy: all %d slots (probeEndpoint.maxConcurrent) stayed taken while a whole attempt (%v) still fitted the request's %v", cap(slots), timeout, budget)
		return
	}
	defer func() { <-slots }()
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if refusal != nil {
		// Only being probed now can allow it. The scan of every probe
		// runs holding a slot: a flood of requests costs at most
		// maxConcurrent scans at once, not one per request.
		if !h.discovered(target.Host, port) {
			h.fail(w, "refused", http.StatusForbidden, "refused: %v (and the exporter does not probe it now)", refusal)
			return
		}
		// As a listed name with a port: only this host:port (and, at
		// dial time, addresses the exporter probes now).
		discovered, adm = true, allowlist.Admission{ByName: true, Port: port}
	}
	p, err := h.o.Probers.New(def)
	if err != nil {
		h.fail(w, "bad_request", http.StatusBadRequest, "module %q: %v", moduleName, err)
		return
	}
	actx, facts := prober.WithFacts(prober.WithDialGuard(ctx, guard))
	if hostname != "" && def.HTTPGet != nil {
		// The request names the host; connections go to the target.
		actx = prober.WithPinnedHost(actx, def.HTTPGet.Host, target.Host)
	}
	o, took := prober.Attempt(actx, p, target, timeout)
	success := o.Err == nil && (o.Result == prober.Success || o.Result == prober.Warning)
	result := "failure"
	if success {
		result = "success"
	}
	h.o.Requests.WithLabelValues(result).Inc()

	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	gauge("probe_success", "Whether the probe succeeded.", boolValue(success))
	gauge("probe_duration_seconds", "How long the probe took.", took.Seconds())
	// The handler's own gauges, from its prober.
	vecs := map[string]*prometheus.GaugeVec{}
	facts.Each(func(f prober.Fact) {
		if len(f.Labels) == 0 {
			gauge(f.Name, f.Help, f.Value)
			return
		}
		v, ok := vecs[f.Name]
		if !ok {
			v = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.Name, Help: f.Help}, f.Labels)
			reg.MustRegister(v)
			vecs[f.Name] = v
		}
		v.WithLabelValues(f.Values...).Set(f.Value)
	})
	// As blackbox_exporter: always there, 0 for an address.
	gauge("probe_dns_lookup_time_seconds", "How long resolving the target's name took.", o.Lookup.Seconds())
	dialMu.Lock()
	proto := 0.0
	if lastDialed.IsValid() {
		proto = 6
		if lastDialed.Addr().Unmap().Is4() {
			proto = 4
		}
	}
	traceText := trace.String()
	dialMu.Unlock()
	gauge("probe_ip_protocol", "IP protocol of the address connected to: 4 or 6, 0 if none.", proto)

	if q.Get("debug") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Module: %s\nTarget: %s (%s)\nTimeout: %v\n", moduleName, rawTarget, p.Address(target), timeout)
		fmt.Fprint(w, traceText)
		reason := o.Output
		if o.Err != nil {
			reason = o.Err.Error()
		}
		fmt.Fprintf(w, "Result: %s in %v\nOutput: %s\n\nMetrics that would have been returned:\n", result, took.Round(time.Microsecond), reason)
		mfs, _ := reg.Gather()
		var buf bytes.Buffer
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				labels := ""
				for _, l := range m.GetLabel() {
					labels += fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
				}
				if labels != "" {
					labels = "{" + labels + "}"
				}
				fmt.Fprintf(&buf, "%s%s %v\n", mf.GetName(), labels, m.GetGauge().GetValue())
			}
		}
		_, _ = w.Write(buf.Bytes())
		return
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// acquire takes a slot, waiting at most wait (a free slot is taken even
// when wait is 0).
func acquire(ctx context.Context, slots chan struct{}, wait time.Duration) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// probeTimeout is blackbox_exporter's getTimeout: the attempt's timeout
// is the scrape timeout Prometheus sends, less the offset, unless the
// module's is shorter (or the header leaves nothing after the offset); no
// header or 0 means 120 s; an unparsable header is an error. budget is
// the whole request's time (at least the attempt's): what is left of it
// beyond the attempt may be spent waiting for a slot.
func probeTimeout(header string, module time.Duration) (attempt, budget time.Duration, err error) {
	scrape := 120.0
	if header != "" {
		f, err := strconv.ParseFloat(header, 64)
		if err != nil {
			return 0, 0, err
		}
		if f != 0 {
			scrape = f
		}
	}
	left := time.Duration((scrape - scrapeTimeoutOffset.Seconds()) * float64(time.Second))
	// blackbox probes with a zero timeout when the header equals the
	// offset (failing at once); that is no attempt at all: the module's.
	if left <= 0 || (module > 0 && module < left) {
		return module, max(module, left), nil
	}
	return left, left, nil
}

// withHostname is blackbox_exporter's hostname parameter for an httpGet
// module: the Host header and the TLS server name are the name, the
// connection goes to the target (its address is what the allowlist
// judges). A module that sets another Host header conflicts with it.
func withHostname(def *probe.Probe, hostname string) (*probe.Probe, error) {
	if strings.ContainsAny(hostname, "/?#@ \t\r\n") || hostname != strings.TrimSpace(hostname) {
		return nil, fmt.Errorf("hostname %q is not a host name", hostname)
	}
	h := *def.HTTPGet
	h.HTTPHeaders = nil
	for _, hd := range def.HTTPGet.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			if hd.Value != hostname {
				return nil, fmt.Errorf("host header defined both in module configuration (%s) and with URL-parameter 'hostname' (%s)", hd.Value, hostname)
			}
			continue
		}
		h.HTTPHeaders = append(h.HTTPHeaders, hd)
	}
	h.HTTPHeaders = append(h.HTTPHeaders, probe.HTTPHeader{Name: "Host", Value: hostname})
	// The URL carries the name, for TLS's server name; a port in it is
	// the Host header's, not the name's.
	name := hostname
	if hp, _, err := net.SplitHostPort(hostname); err == nil {
		name = hp
	}
	h.Host = strings.Trim(name, "[]")
	out := *def
	out.HTTPGet = &h
	return &out, nil
}

// discovered reports whether the exporter probes host:port now.
func (h *probeHandler) discovered(host string, port int) bool {
	if h.o.Targets == nil {
		return false
	}
	// Only what a network probe dials counts: an exec probe's address
	// is a label, not a connection the exporter makes.
	return h.o.Targets.Probing(net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)))
}

// moduleFor is the module's probe applied to a target: host, host:port,
// [v6]:port, or for httpGet modules http(s)://host[:port]/path?query
// (scheme, port and path then come from the URL). A port in the target
// replaces the module's.
func moduleFor(m *probe.Probe, raw string) (*probe.Probe, *prober.Target, error) {
	def := *m
	t := &prober.Target{}
	if strings.Contains(raw, "://") {
		if m.HTTPGet == nil {
			return nil, nil, errors.New("a URL needs an httpGet module")
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, nil, err
		}
		h := *m.HTTPGet
		switch u.Scheme {
		case "http":
			h.Scheme = "HTTP"
		case "https":
			h.Scheme = "HTTPS"
		default:
			return nil, nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
		}
		if u.User != nil {
			return nil, nil, errors.New("user info in the URL is not allowed")
		}
		t.Host = u.Hostname()
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, nil, fmt.Errorf("port %q is not 1-65535", port)
		}
		t.Port = int32(n)
		h.Port = probe.IntOrString{IntVal: int32(n)}
		h.Path = u.EscapedPath()
		if u.RawQuery != "" {
			h.Path += "?" + u.RawQuery
		}
		def.HTTPGet = &h
		return &def, t, nil
	}
	host, port := raw, ""
	if hp, pp, err := net.SplitHostPort(raw); err == nil {
		host, port = hp, pp
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, nil, errors.New("not host, host:port or an http(s) URL")
	}
	t.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, nil, fmt.Errorf("port %q is not 1-65535", port)
		}
		t.Port = int32(n)
		// The target's port replaces the module's.
		switch h := def.Handler().(type) {
		case *probe.HTTPGetAction:
			c := *h
			c.Port = probe.IntOrString{}
			def.HTTPGet = &c
		case *probe.TCPSocketAction:
			c := *h
			c.Port = probe.IntOrString{}
			def.TCPSocket = &c
		case *probe.GRPCAction:
			c := *h
			c.Port = t.Port
			def.GRPC = &c
		}
	}
	if t.Port == 0 {
		t.Port = modulePort(&def)
	}
	if t.Port == 0 {
		return nil, nil, errors.New("no port: give host:port, or a port in the module")
	}
	return &def, t, nil
}

func modulePort(p *probe.Probe) int32 {
	if h := p.Handler(); h != nil && !probe.Port(h).IsString {
		return probe.Port(h).IntVal
	}
	return 0
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
