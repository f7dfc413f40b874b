// Package targets joins a config entry's probe definitions with discovered
// targets into what the scheduler runs: one scheduler.Target per
// discovered target, one Spec per probe kind, with the labels that
// identify its series.
package targets

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/relabel"
	"github.com/probe-exporter/probe-exporter/resolver"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/series"
)

// Entry is one config entry with its probers built, ready to be applied to
// any number of discovered targets.
type Entry struct {
	cfg *config.Entry
	env *prober.Env
	// network is how the entry's names resolve: part of every probe's
	// identity, so that a reload changing it replaces the probes.
	network string
	probes  []builtProbe
	rules   []*relabel.Rule

	mu     sync.Mutex
	names  map[string]*series.Names // by joined names, reused across groups
	shared map[string]builtProbe    // targets' own probes (inheritProbes), by identity
}

type builtProbe struct {
	kind     probe.Kind
	def      *probe.Probe
	prober   prober.Prober
	identity string
}

// NewEntry builds the entry's probers in env: once per probe definition,
// shared by all its targets and attempts.
func NewEntry(cfg *config.Entry, env *prober.Env) (*Entry, error) {
	servers, fam := cfg.Network()
	family, err := resolver.ParseFamily(fam)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", cfg.Name, err)
	}
	network := prober.Network{Servers: servers, Family: family}
	env = env.For(network)
	e := &Entry{cfg: cfg, env: env, network: network.String(), names: map[string]*series.Names{}, shared: map[string]builtProbe{}}
	for i := range cfg.RelabelConfigs {
		r, err := cfg.RelabelConfigs[i].Compile()
		if err != nil {
			return nil, fmt.Errorf("target %q, relabel_configs[%d]: %w", cfg.Name, i, err)
		}
		e.rules = append(e.rules, r)
	}
	for _, kp := range cfg.Probes() {
		id, err := e.identity(kp)
		if err != nil {
			return nil, err
		}
		p, err := e.newProbe(kp, id)
		if err != nil {
			return nil, fmt.Errorf("target %q, %sProbe: %w", cfg.Name, kp.Kind, err)
		}
		e.probes = append(e.probes, p)
	}
	return e, nil
}

// identity tells probe definitions apart: equal definitions share a
// prober, and a target keeps its state while its identities don't change.
func (e *Entry) identity(kp config.KindProbe) (string, error) {
	def, err := json.Marshal(kp.Probe)
	id := kp.Kind.String() + string(def) + e.network
	if e.cfg.Unreachable() {
		id += " expect=unreachable" // the same request, judged the other way
	}
	return id, err
}

func (e *Entry) newProbe(kp config.KindProbe, id string) (builtProbe, error) {
	p, err := e.env.New(kp.Probe)
	if err != nil {
		return builtProbe{}, err
	}
	if e.cfg.Unreachable() {
		p = prober.ExpectUnreachable(p)
	}
	return builtProbe{kind: kp.Kind, def: kp.Probe, prober: p, identity: id}, nil
}

// probesFor is the entry's probes, or the target's own (a container's
// probes with inheritProbes), built once per distinct definition.
func (e *Entry) probesFor(dt discovery.Target) []builtProbe {
	own := dt.Probes
	switch {
	case dt.Route != nil:
		own = routed(e.cfg.Probes(), dt.Route)
	case own == nil:
		return e.probes
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]builtProbe, 0, len(own))
	for _, kp := range own {
		id, err := e.identity(kp)
		if err != nil {
			continue
		}
		p, ok := e.shared[id]
		if !ok {
			if p, err = e.newProbe(kp, id); err != nil {
				continue
			}
			e.shared[id] = p
		}
		out = append(out, p)
	}
	return out
}

// routed is the entry's probes for an L7 route's target: each httpGet
// GETs the route's path with its scheme (its host is the target's: the
// virtual host); the entry gives the rest (port, headers, timing).
func routed(probes []config.KindProbe, r *discovery.Route) []config.KindProbe {
	out := make([]config.KindProbe, len(probes))
	for i, kp := range probes {
		out[i] = kp
		if kp.Probe.HTTPGet == nil {
			continue
		}
		def := *kp.Probe
		get := *def.HTTPGet
		get.Path, get.Scheme, get.Host = r.Path, r.Scheme, ""
		def.HTTPGet = &get
		out[i].Probe = &def
	}
	return out
}

// Targets turns a discovered group into scheduler targets, after
// relabel_configs.
func (e *Entry) Targets(g discovery.Group) []scheduler.Target {
	if len(e.rules) > 0 {
		kept := make([]discovery.Target, 0, len(g.Targets))
		for _, dt := range g.Targets {
			if t, ok := e.relabel(dt); ok {
				kept = append(kept, t)
			}
		}
		g.Targets = kept
	}
	names := e.labelNames(g)
	out := make([]scheduler.Target, 0, len(g.Targets))
	own := make([]string, 0, len(g.Targets)) // each target's own address
	for _, dt := range g.Targets {
		if !discovery.ValidHost(dt.Host) {
			continue // sources drop these and count them; never probe one
		}
		own = append(own, dt.HostPort())
		labels := make(map[string]string, len(e.cfg.Labels)+len(dt.Labels))
		if len(e.rules) == 0 {
			// With relabel_configs the entry's labels went through them.
			for k, v := range e.cfg.Labels {
				labels[k] = v
			}
		}
		for k, v := range dt.Labels {
			labels[k] = v
		}
		if e.cfg.Unreachable() {
			labels[series.Expect] = config.ExpectUnreachable
		}
		probes := e.probesFor(dt)
		t := scheduler.Target{Key: string(dt.ID), Since: dt.Since, Specs: make([]scheduler.Spec, 0, len(probes))}
		if t.Key == "" {
			t.Key = string(key(dt))
		}
		for _, p := range probes {
			pt := &prober.Target{Host: dt.Host, Port: dt.Port, NamedPorts: dt.NamedPorts}
			if dt.Route != nil {
				pt.Via = dt.Route.Via
			}
			if p.def.Exec != nil {
				pt.Vars = e.vars(dt, p.kind, labels)
			}
			addr := p.prober.Address(pt)
			values := make([]string, len(names.Names))
			values[series.TargetLabel], values[series.KindLabel], values[series.AddressLabel] = e.cfg.Name, p.kind.String(), addr
			for i, n := range names.Names[3:] {
				values[i+3] = labels[n]
			}
			t.Specs = append(t.Specs, scheduler.Spec{
				Kind:             p.kind,
				Prober:           p.prober,
				Target:           pt,
				Definition:       p.def,
				InitialDelay:     seconds(p.def.InitialDelaySeconds),
				Period:           seconds(p.def.PeriodSeconds),
				Timeout:          seconds(p.def.TimeoutSeconds),
				SuccessThreshold: p.def.SuccessThreshold,
				FailureThreshold: p.def.FailureThreshold,
				Entry:            e.cfg.Name,
				Labels:           series.New(names, values),
				Identity:         p.identity,
			})
		}
		out = append(out, t)
	}
	return dedupe(out, own)
}

// dedupe keeps one probe per (host, kind, definition, address): a Service
// with ports http and metrics and a probe that names port: http yields
// two discovered targets that would make the same request under the same
// series. The one whose own port is the probed port keeps it (else the
// first); targets left with no probe are dropped.
func dedupe(ts []scheduler.Target, own []string) []scheduler.Target {
	type request struct {
		host              string
		kind              probe.Kind
		identity, address string
	}
	home := map[request][2]int{} // target, spec
	for i := range ts {
		for j := range ts[i].Specs {
			sp := &ts[i].Specs[j]
			r := request{sp.Target.Host, sp.Kind, sp.Identity, sp.Labels.Address()}
			if h, dup := home[r]; !dup || (own[h[0]] != r.address && own[i] == r.address) {
				home[r] = [2]int{i, j}
			}
		}
	}
	if len(home) == countSpecs(ts) {
		return ts
	}
	out := ts[:0]
	for i := range ts {
		specs := ts[i].Specs[:0]
		for j := range ts[i].Specs {
			sp := &ts[i].Specs[j]
			if home[request{sp.Target.Host, sp.Kind, sp.Identity, sp.Labels.Address()}] == [2]int{i, j} {
				specs = append(specs, *sp)
			}
		}
		if len(specs) > 0 {
			ts[i].Specs = specs
			out = append(out, ts[i])
		}
	}
	return out
}

func countSpecs(ts []scheduler.Target) int {
	n := 0
	for i := range ts {
		n += len(ts[i].Specs)
	}
	return n
}

// labelNames is target, kind, address, then the sorted union of the entry's
// and the group's target label names: one schema per entry, so its series
// share descriptors.
func (e *Entry) labelNames(g discovery.Group) *series.Names {
	set := map[string]struct{}{}
	if len(e.rules) == 0 {
		for k := range e.cfg.Labels {
			set[k] = struct{}{}
		}
	}
	for _, t := range g.Targets {
		for k := range t.Labels {
			set[k] = struct{}{}
		}
	}
	if e.cfg.Unreachable() {
		// Isolation checks' series say so: expect="unreachable".
		set[series.Expect] = struct{}{}
	}
	extra := make([]string, 0, len(set))
	for k := range set {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	names := append(series.Fixed(), extra...)
	joined := strings.Join(names, ",")
	e.mu.Lock()
	defer e.mu.Unlock()
	if n, ok := e.names[joined]; ok {
		return n
	}
	n := series.NewNames(names)
	e.names[joined] = n
	return n
}

// relabel applies the entry's relabel_configs to a target: they see the
// entry's and the target's labels, its __meta_* labels and __address__,
// as in Prometheus; what is left without a __ prefix becomes its labels,
// and __address__ what it probes.
func (e *Entry) relabel(dt discovery.Target) (discovery.Target, bool) {
	ls := make(map[string]string, len(e.cfg.Labels)+len(dt.Meta)+len(dt.Labels)+1)
	for k, v := range e.cfg.Labels {
		ls[k] = v
	}
	for k, v := range dt.Meta {
		ls[k] = v
	}
	for k, v := range dt.Labels {
		ls[k] = v
	}
	addr := dt.RelabelAddress()
	ls["__address__"] = addr
	if !relabel.Process(ls, e.rules) {
		return dt, false
	}
	out := discovery.Target{ID: dt.ID, NamedPorts: dt.NamedPorts, Labels: map[string]string{}, Since: dt.Since, Probes: dt.Probes, Route: dt.Route}
	if out.ID == "" {
		out.ID = key(dt) // identity from before relabeling: stable across it
	}
	newAddr := ls["__address__"]
	if newAddr == addr && dt.Address != "" {
		newAddr = dt.HostPort() // untouched: probe what discovery meant
	}
	host, port, err := net.SplitHostPort(newAddr)
	if err != nil {
		host, port = strings.Trim(newAddr, "[]"), ""
	}
	out.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return dt, false // an unusable __address__ drops the target, as in Prometheus
		}
		out.Port = int32(n)
	}
	if !discovery.ValidHost(out.Host) {
		// A rewritten __address__ is discovered data too (an annotation):
		// it must be a host, never text for an address label or a shell.
		return dt, false
	}
	for k, v := range ls {
		if strings.HasPrefix(k, "__") || reserved(k) || v == "" {
			continue
		}
		if !model.LegacyValidation.IsValidLabelName(k) {
			// labelmap can make any name; Prometheus drops such a target
			// ("invalid label name"), and a series can't carry it.
			return dt, false
		}
		out.Labels[k] = v
	}
	return out, true
}

func reserved(name string) bool {
	for _, r := range series.Reserved {
		if r == name {
			return true
		}
	}
	return false
}

// vars are what an exec probe sees of its target, for $(VAR) expansion
// and in its environment.
func (e *Entry) vars(t discovery.Target, kind probe.Kind, labels map[string]string) map[string]string {
	v := map[string]string{
		"PROBE_TARGET":  e.cfg.Name,
		"PROBE_KIND":    kind.String(),
		"PROBE_HOST":    t.Host,
		"PROBE_ADDRESS": t.Host,
	}
	if t.Port != 0 {
		port := strconv.Itoa(int(t.Port))
		v["PROBE_PORT"] = port
		v["PROBE_ADDRESS"] = net.JoinHostPort(t.Host, port)
	}
	for k, val := range labels {
		v["PROBE_LABEL_"+k] = val
	}
	return v
}

// key is a discovered target's identity within its group when its
// source gives none: its host, port and labels.
func key(t discovery.Target) discovery.ID {
	parts := make([]string, 0, 2+2*len(t.Labels))
	parts = append(parts, t.Host, strconv.Itoa(int(t.Port)))
	ks := make([]string, 0, len(t.Labels))
	for k := range t.Labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		parts = append(parts, k, t.Labels[k])
	}
	return discovery.IDOf(parts...)
}

func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }
