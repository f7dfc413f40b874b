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
	// Kubernetes IsHTTPHeaderName.
	headerNameRE = regexp.MustCompile(`^[-A-Za-z0-9]+$`)
	dnsLabelRE   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`)
	// IANA_SVC_NAME characters, as Kubernetes IsValidPortName checks them.
	portNameCharsRE = regexp.MustCompile(`^[-a-z0-9]+$`)
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

// probe mirrors Kubernetes validateProbe, validateLivenessProbe,
// validateReadinessProbe and validateStartupProbe, plus the static-target
// rules for ports.
func (v *validator) probe(p *probe.Probe, kind probe.Kind, path, entry string, t *Entry) {
	for _, f := range []struct {
		name string
		val  int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.val < 0 {
			v.invalid(path+"."+f.name, f.val, "must be greater than or equal to 0")
		}
	}
	if g := p.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		v.invalid(path+".terminationGracePeriodSeconds", *g, "must be greater than 0")
	}
	switch {
	case kind == probe.Readiness && p.TerminationGracePeriodSeconds != nil:
		v.invalid(path+".terminationGracePeriodSeconds", *p.TerminationGracePeriodSeconds, "must not be set for readinessProbes")
	case kind != probe.Readiness && p.SuccessThreshold != 1:
		v.invalid(path+".successThreshold", p.SuccessThreshold, "must be 1")
	}

	// validateHandler: the first handler (in the API's order) is
	// validated; each further one is forbidden, at its own path.
	first := ""
	for _, h := range []struct {
		name string
		set  bool
	}{{"exec", p.Exec != nil}, {"httpGet", p.HTTPGet != nil}, {"tcpSocket", p.TCPSocket != nil}, {"grpc", p.GRPC != nil}} {
		switch {
		case !h.set:
		case first == "":
			first = h.name
		default:
			v.add(path+"."+h.name, "Forbidden: may not specify more than 1 handler type")
		}
	}
	if first == "" {
		v.add(path, "Required value: must specify a handler type (one of exec, httpGet, tcpSocket, grpc)")
	}

	if e := p.Exec; e != nil && first == "exec" {
		switch {
		case len(e.Command) == 0:
			v.add(path+".exec.command", "Required value")
		case !strings.Contains(e.Command[0], "$("):
			// The kubelet would find out in the container; we run it here,
			// so a missing executable is known now rather than as errors
			// that are discarded forever.
			if _, err := exec.LookPath(e.Command[0]); err != nil {
				if inner := errors.Unwrap(err); inner != nil {
					err = inner
				}
				v.invalid(path+".exec.command[0]", e.Command[0], "executable not found on this host ("+err.Error()+")")
			}
		}
	}
	if h := p.HTTPGet; h != nil && first == "httpGet" {
		if h.Scheme != "HTTP" && h.Scheme != "HTTPS" {
			v.add(path+".httpGet.scheme", "Unsupported value: %q: supported values: \"HTTP\", \"HTTPS\"", h.Scheme)
		}
		for i, hd := range h.HTTPHeaders {
			if !headerNameRE.MatchString(hd.Name) {
				v.invalid(fmt.Sprintf("%s.httpGet.httpHeaders[%d].name", path, i), hd.Name,
					"a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')")
			}
		}
		v.port(h.Port, path+".httpGet.port", entry, t)
	}
	if s := p.TCPSocket; s != nil && first == "tcpSocket" {
		v.port(s.Port, path+".tcpSocket.port", entry, t)
	}
	if g := p.GRPC; g != nil && first == "grpc" && (g.Port < 1 || g.Port > 65535) {
		v.invalid(path+".grpc.port", g.Port, "must be between 1 and 65535, inclusive")
	}
}

// port applies the API server's ValidatePortNumOrName and then what
// static hosts can offer: they have no container ports, so a name can't
// resolve, and no port falls back to the host's own port. A quoted number
// ("8080") is a string to the API server, and IsValidPortName rejects it
// (a name needs a letter); the kubelet's Atoi fallback only ever meets
// objects that passed this, so it is rejected here too, with a hint.
func (v *validator) port(p probe.IntOrString, path, entry string, t *Entry) {
	if _, written := v.pos[path]; written && p.IsZero() {
		v.invalid(path, 0, "must be between 1 and 65535, inclusive")
		return
	}
	if p.IsString {
		if msgs := portNameErrors(p.StrVal); len(msgs) > 0 {
			// One error per message, as the API server gives them.
			for i, msg := range msgs {
				if _, err := strconv.Atoi(p.StrVal); err == nil && i == len(msgs)-1 {
					msg += " (a port number is an integer: drop the quotes, port: " + p.StrVal + ")"
				}
				v.invalid(path, p.StrVal, msg)
			}
			return
		}
		if t.Discovered == nil {
			v.invalid(path, p.StrVal, "named ports cannot be resolved for static hosts (they have no container ports); use a port number")
		}
		return
	}
	if !p.IsZero() {
		if p.IntVal < 1 || p.IntVal > 65535 {
			v.invalid(path, p.IntVal, "must be between 1 and 65535, inclusive")
		}
		return
	}
	// No port: discovered targets bring their own; every static host
	// must have one.
	for j, h := range t.Static {
		if h.Port == 0 {
			v.add(path, "Required value: set a port here, or on every static host (%s.static[%d] has none)", entry, j)
			return
		}
	}
}

// portNameErrors is Kubernetes' IsValidPortName (IANA_SVC_NAME).
func portNameErrors(port string) []string {
	var errs []string
	if len(port) > 15 {
		errs = append(errs, "must be no more than 15 characters")
	}
	if !portNameCharsRE.MatchString(port) {
		errs = append(errs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if !strings.ContainsAny(port, "abcdefghijklmnopqrstuvwxyz") {
		errs = append(errs, "must contain at least one letter (a-z)")
	}
	if strings.Contains(port, "--") {
		errs = append(errs, "must not contain consecutive hyphens")
	}
	if strings.HasPrefix(port, "-") || strings.HasSuffix(port, "-") {
		errs = append(errs, "must not begin or end with a hyphen")
	}
	return errs
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
