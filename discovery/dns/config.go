package dns

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
)

const mechanism = "dns"

// The dns: mechanism, registered once: an entry's block and its runtime.
func init() {
	discovery.Register(mechanism, func() config.Source { return &Config{} }, func(d discovery.Deps) discovery.Discoverer {
		return New(Options{Resolvers: d.Resolvers, Resolv: d.Resolv, Logger: d.Logger}, d.Metrics, d.Registerer)
	})
}

// Config is an entry's dns: block, named as Prometheus' dns_sd_configs.
type Config struct {
	// Names to look up. With type A or AAAA a name may hold one brace
	// range, web-{0..4}.svc-web.shop.svc.cluster.local: one target per
	// name, each resolved when it is probed (a StatefulSet's pods without
	// API access; a pod missing from DNS is a failing target, not an
	// absent one).
	Names []string `yaml:"names"`
	// Type is SRV (default), A, AAAA, MX or NS.
	Type string `yaml:"type"`
	// Port is the targets' port for A, AAAA, MX and NS (SRV records carry
	// theirs).
	Port int32 `yaml:"port"`
	// RefreshInterval is how often the names are looked up again (30s); a
	// shorter TTL shortens it, down to a second.
	RefreshInterval string `yaml:"refreshInterval"`
	// Nameservers, host:port, tried in order; default: /etc/resolv.conf.
	Nameservers []string `yaml:"nameservers"`
}

// Nameservers are the block's own: its targets' names resolve through
// them when probed.
func (c *Config) ProbeNameservers() []string { return c.Nameservers }

// refresh is RefreshInterval parsed (validated at load: at least 1s).
func (c *Config) refresh() time.Duration {
	d, err := model.ParseDuration(c.RefreshInterval)
	if err != nil || time.Duration(d) < time.Second {
		return 30 * time.Second
	}
	return time.Duration(d)
}

// Record types.
const (
	TypeSRV  = "SRV"
	TypeA    = "A"
	TypeAAAA = "AAAA"
	TypeMX   = "MX" // a mail exchanger's name, resolved when probed
	TypeNS   = "NS" // a nameserver's name, resolved when probed
)

var types = []string{TypeSRV, TypeA, TypeAAAA, TypeMX, TypeNS}

// SetDefaults applies the defaults.
func (c *Config) SetDefaults() {
	if c.Type == "" {
		c.Type = TypeSRV
	}
	if c.RefreshInterval == "" {
		c.RefreshInterval = "30s"
	}
}

// braceRange is one {a..b} in a name.
var braceRange = regexp.MustCompile(`\{(\d+)\.\.(\d+)\}`)

// maxExpanded bounds what one brace range makes.
const maxExpanded = 10000

// Validate checks the block.
func (c *Config) Validate(v config.Checker, path string) {
	if len(c.Names) == 0 {
		v.Add(path+".names", "Required value: at least one name")
	}
	typeOK := v.OneOf(path+".type", c.Type, types)
	for i, n := range c.Names {
		p := fmt.Sprintf("%s.names[%d]", path, i)
		if _, err := expand(n); err != nil {
			v.Invalid(p, n, err.Error())
			continue
		}
		if typeOK && c.Type != TypeA && c.Type != TypeAAAA && strings.Contains(n, "{") {
			v.Invalid(p, n, "a brace range needs type A or AAAA (SRV lists only ready pods)")
		}
	}
	switch {
	case c.Type == TypeSRV && c.Port != 0:
		v.Add(path+".port", "Forbidden: SRV records carry their ports")
	case c.Type != TypeSRV && typeOK && (c.Port < 1 || c.Port > 65535):
		v.Invalid(path+".port", c.Port, "must be between 1 and 65535, inclusive (required for type "+c.Type+")")
	}
	d, err := model.ParseDuration(c.RefreshInterval)
	switch {
	case err != nil:
		v.Invalid(path+".refreshInterval", c.RefreshInterval, err.Error())
	case time.Duration(d) < time.Second:
		v.Invalid(path+".refreshInterval", c.RefreshInterval, "must be at least 1s")
	}
	for i, ns := range c.Nameservers {
		host, port, err := net.SplitHostPort(ns)
		if err == nil {
			if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
				err = fmt.Errorf("invalid port %q", port)
			} else if net.ParseIP(host) == nil {
				err = fmt.Errorf("%q is not an IP address", host)
			}
		}
		if err != nil {
			v.Invalid(fmt.Sprintf("%s.nameservers[%d]", path, i), ns, "must be ip:port: "+err.Error())
		}
	}
}

// Expands is how many targets the block's brace ranges make: a name
// with a range is that many targets, resolved when probed; the names
// without one make what their answers hold, not counted here.
func (c *Config) Expands() int {
	n := 0
	for _, name := range c.Names {
		if m := braceRange.FindStringSubmatch(name); m != nil {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			if hi >= lo {
				n += hi - lo + 1
			}
		}
	}
	return n
}

// expand is name with its brace range, if any, expanded.
func expand(name string) ([]string, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("empty name")
	}
	ms := braceRange.FindAllStringSubmatchIndex(name, -1)
	switch {
	case len(ms) == 0:
		if strings.ContainsAny(name, "{}") {
			return nil, fmt.Errorf("a brace range is {first..last}, with numbers")
		}
		return []string{name}, nil
	case len(ms) > 1:
		return nil, fmt.Errorf("at most one brace range")
	}
	m := ms[0]
	lo, _ := strconv.Atoi(name[m[2]:m[3]])
	hi, _ := strconv.Atoi(name[m[4]:m[5]])
	if hi < lo {
		return nil, fmt.Errorf("the range {%d..%d} is empty", lo, hi)
	}
	if hi-lo+1 > maxExpanded {
		return nil, fmt.Errorf("the range {%d..%d} makes more than %d names", lo, hi, maxExpanded)
	}
	prefix, suffix := name[:m[0]], name[m[1]:]
	if strings.ContainsAny(prefix+suffix, "{}") {
		return nil, fmt.Errorf("a brace range is {first..last}, with numbers")
	}
	out := make([]string, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		out = append(out, prefix+strconv.Itoa(i)+suffix)
	}
	return out, nil
}
