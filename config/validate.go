package config

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/probe-exporter/probe-exporter/allowlist"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/relabel"
	"github.com/probe-exporter/probe-exporter/series"
)

// validator checks a defaulted Config. Messages follow Kubernetes'
// field.Error wording ("Invalid value: …", "Required value", "Forbidden: …")
// so users recognise them from kubectl.
type validator struct {
	*decoder
}

func (v validator) add(path, format string, args ...any) {
	if v.silenced(path) {
		return // its value was lost in decoding, which said so
	}
	if v.full() {
		v.more++ // counted, not located: at() walks the path's parents
		return
	}
	p := v.at(path)
	v.report(FieldError{File: v.file, Line: p.line, Column: p.column, Path: path}, format, args...)
}

func (v *validator) invalid(path string, value any, msg string) {
	v.add(path, "Invalid value: %s: %s", quote(value), msg)
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

var (
	targetNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	dnsLabelRE   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`)
)

func (v *validator) config(c *Config) {
	v.probeEndpoint(c)
	if n := c.Expanded(); n > MaxExpandedTargets {
		v.add("targets", "Forbidden: the file's name patterns expand to %d targets, more than %d (raise the bound with --config.max-expanded-targets)", n, MaxExpandedTargets)
	}
	names := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		path := fmt.Sprintf("targets[%d]", i)
		v.target(t, path)
		if t.Name == "" {
			continue
		}
		if j, dup := names[t.Name]; dup {
			v.invalid(path+".name", t.Name, fmt.Sprintf("duplicates targets[%d].name; names must be unique", j))
		} else {
			names[t.Name] = i
		}
	}
}

var moduleName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// probeEndpoint checks modules: and probeEndpoint:.
func (v *validator) probeEndpoint(c *Config) {
	names := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := "modules." + n
		m := c.Modules[n]
		if !moduleName.MatchString(n) {
			v.invalid(path, n, "a module name is letters, digits, _ and -")
		}
		if m == nil {
			v.add(path, "Required value: a probe definition")
			continue
		}
		if m.Exec != nil {
			v.add(path+".exec", "Forbidden: exec modules can't be reached through /probe")
			continue
		}
		if (m.HTTPGet != nil && m.HTTPGet.Host != "") || (m.TCPSocket != nil && m.TCPSocket.Host != "") {
			v.add(path, "Forbidden: a module's host is the target parameter of /probe; remove httpGet.host / tcpSocket.host")
		}
		v.probe(m, probe.Readiness, path, n, &Entry{})
	}
	e := c.ProbeEndpoint
	if e == nil {
		return
	}
	_, errs := allowlist.Parse(e.AllowedTargets)
	for _, err := range errs {
		v.invalid(fmt.Sprintf("probeEndpoint.allowedTargets[%d]", err.Index), err.Entry, err.Msg)
	}
	if len(e.AllowedTargets) == 0 && !e.AllowDiscovered {
		v.add("probeEndpoint.allowedTargets", "Required value: /probe needs allowedTargets, allowDiscovered, or both")
	}
	if e.MaxConcurrent < 0 {
		v.invalid("probeEndpoint.maxConcurrent", e.MaxConcurrent, "must be greater than or equal to 0")
	}
	if m := e.DefaultModule; m != "" {
		if _, ok := c.Modules[m]; !ok {
			v.add("probeEndpoint.defaultModule", "Invalid value: %q: no such module (modules: %s)", m, strings.Join(moduleNames(c), ", "))
		}
	}
}

func moduleNames(c *Config) []string {
	names := make([]string, 0, len(c.Modules))
	for n := range c.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (v *validator) target(t *Entry, path string) {
	switch {
	case t.Name == "":
		v.add(path+".name", "Required value")
	case !targetNameRE.MatchString(t.Name):
		v.invalid(path+".name", t.Name, "must match [a-zA-Z_][a-zA-Z0-9_-]*")
	}
	v.labels(t.Labels, path+".labels")

	switch d := t.Discovered; {
	case len(t.Static) == 0 && d == nil:
		v.add(path+".static", "Required value: list at least one static host, or discover targets with %s", strings.Join(SourceKeys(), " or "))
	case len(t.Static) > 0 && d != nil:
		v.add(path+"."+d.Mechanism, "Forbidden: static and %s can't be combined in one entry; use two entries", d.Mechanism)
	}
	if d := t.Discovered; d != nil {
		d.Config.Validate(v, path+"."+d.Mechanism)
	}
	if t.IPFamily != "" {
		v.oneOf(path+".ipFamily", t.IPFamily, []string{"IPv4", "IPv6"})
	}
	if t.Expect != "" {
		v.oneOf(path+".expect", t.Expect, []string{ExpectReachable, ExpectUnreachable})
	}
	if t.Unreachable() {
		for _, kp := range t.Probes() {
			if kp.Probe.Exec != nil {
				v.add(fmt.Sprintf("%s.%sProbe.exec", path, kp.Kind), "Forbidden: expect: unreachable checks that a connection can't be made; a command makes none (use httpGet, tcpSocket or grpc)")
			}
		}
	}
	for i := range t.RelabelConfigs {
		v.relabel(&t.RelabelConfigs[i], fmt.Sprintf("%s.relabel_configs[%d]", path, i))
	}
	type hostKey struct {
		host   string
		port   int32
		labels string
	}
	seen := map[hostKey]int{}
	for j := range t.Static {
		h := &t.Static[j]
		hp := fmt.Sprintf("%s.static[%d]", path, j)
		v.host(h.Host, hp+".host")
		if h.Port != 0 && (h.Port < 1 || h.Port > 65535) {
			v.invalid(hp+".port", h.Port, "must be between 1 and 65535, inclusive")
		}
		v.labels(h.Labels, hp+".labels")
		k := hostKey{h.Host, h.Port, canonicalLabels(h.Labels)}
		if first, dup := seen[k]; dup {
			v.add(hp, "Duplicate value: same host, port and labels as %s.static[%d]; series would collide", path, first)
		} else {
			seen[k] = j
		}
	}

	probes := t.Probes()
	inherit := false
	if d := t.Discovered; d != nil {
		if o, ok := d.Config.(OwnProbes); ok {
			inherit = o.OwnProbes()
		}
	}
	switch {
	case len(probes) == 0 && !inherit:
		v.add(path, "Required value: set at least one of readinessProbe, livenessProbe, startupProbe")
	case len(probes) > 0 && inherit:
		v.add(path, "Forbidden: with %s.inheritProbes each container's own probes run; remove the probe blocks here or set inheritProbes: false", t.Discovered.Mechanism)
	}
	for _, kp := range probes {
		v.probe(kp.Probe, kp.Kind, path+"."+kp.Kind.String()+"Probe", path, t)
	}
}

func (v *validator) labels(ls map[string]string, path string) {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "." + k
		switch {
		case !labelNameRE.MatchString(k):
			v.invalid(p, k, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
		case strings.HasPrefix(k, "__"):
			v.invalid(p, k, "label names starting with __ are reserved")
		case contains(series.Reserved, k):
			v.invalid(p, k, "the exporter sets this label itself (reserved: "+strings.Join(series.Reserved, ", ")+")")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// host accepts an IP address or a DNS name.
func (v *validator) host(h, path string) {
	if h == "" {
		v.add(path, "Required value")
		return
	}
	if net.ParseIP(h) != nil {
		return
	}
	if strings.HasPrefix(h, "[") {
		v.invalid(path, h, "write IPv6 addresses without brackets")
		return
	}
	if strings.Contains(h, ":") {
		v.invalid(path, h, "must be an IP address or DNS name without a port (use the port field)")
		return
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) > 253 {
		v.invalid(path, h, "must be no more than 253 characters")
		return
	}
	for _, l := range strings.Split(name, ".") {
		if !dnsLabelRE.MatchString(l) {
			v.invalid(path, h, "must be an IP address or a DNS name (labels of letters, digits and '-', at most 63 characters)")
			return
		}
	}
}

// probe validates a probe block: the API server's rules
// (probe.Validate), then what running it here needs — an executable that
// exists, and ports that static hosts can offer.
func (v *validator) probe(p *probe.Probe, kind probe.Kind, path, entry string, t *Entry) {
	p.Validate(kind, path, v)
	switch h := p.Handler().(type) {
	case *probe.ExecAction:
		if len(h.Command) > 0 && !strings.Contains(h.Command[0], "$(") {
			// The kubelet would find out in the container; we run it here,
			// so a missing executable is known now rather than as errors
			// that are discarded forever.
			if _, err := exec.LookPath(h.Command[0]); err != nil {
				if inner := errors.Unwrap(err); inner != nil {
					err = inner
				}
				v.invalid(path+".exec.command[0]", h.Command[0], "executable not found on this host ("+err.Error()+")")
			}
		}
	case *probe.HTTPGetAction:
		v.port(h.Port, path+".httpGet.port", entry, t)
	case *probe.TCPSocketAction:
		v.port(h.Port, path+".tcpSocket.port", entry, t)
	}
}

// port adds to the API server's port rules (probe.Validate) what static
// hosts can offer: they have no container ports, so a name can't
// resolve, and no port falls back to the host's own port. A port written
// as 0 is invalid, as the API server says; an unwritten one is the
// target's.
func (v *validator) port(p probe.IntOrString, path, entry string, t *Entry) {
	switch _, written := v.pos[path]; {
	case written && p.IsZero():
		v.invalid(path, 0, "must be between 1 and 65535, inclusive")
	case p.IsString:
		if len(probe.PortNameErrors(p.StrVal)) == 0 && t.Discovered == nil {
			v.invalid(path, p.StrVal, "named ports cannot be resolved for static hosts (they have no container ports); use a port number")
		}
	case p.IsZero():
		// No port: discovered targets bring their own; every static host
		// must have one.
		for j, h := range t.Static {
			if h.Port == 0 {
				v.add(path, "Required value: set a port here, or on every static host (%s.static[%d] has none)", entry, j)
				return
			}
		}
	}
}

// canonicalLabels renders a label map in a stable order, for identity checks.
func canonicalLabels(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, ls[k])
	}
	return b.String()
}

// The validator is the Checker sources validate their blocks with.

// Invalid reports an invalid value.
func (v *validator) Invalid(path string, value any, msg string) { v.invalid(path, value, msg) }

// Add reports any other problem.
func (v *validator) Add(path, format string, args ...any) { v.add(path, format, args...) }

// OneOf checks value against allowed.
func (v *validator) OneOf(path, value string, allowed []string) bool {
	return v.oneOf(path, value, allowed)
}

func (v *validator) oneOf(path, value string, allowed []string) bool {
	if contains(allowed, value) {
		return true
	}
	v.add(path, "Unsupported value: %q: supported values: %s", value, quoteAll(allowed))
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func (v *validator) relabel(c *relabel.Config, path string) {
	if _, err := c.Compile(); err != nil {
		var fe *relabel.FieldError
		if errors.As(err, &fe) {
			v.add(path+"."+fe.Field, "Invalid value: %s", fe.Msg)
		} else {
			v.add(path, "Invalid value: %v", err)
		}
		return
	}
	if contains(series.Reserved, c.TargetLabel) {
		v.invalid(path+".target_label", c.TargetLabel, "the exporter sets this label itself (reserved: "+strings.Join(series.Reserved, ", ")+")")
	}
}
