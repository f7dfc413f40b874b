// Package config defines probe-exporter's configuration file: its schema,
// Kubernetes API defaulting and validation of probe blocks, and loading with
// errors that name file:line:column and the field path.
package config

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/relabel"
)

// Config is the whole configuration file.
type Config struct {
	Targets []Entry `yaml:"targets"`

	// Modules are named probe definitions for /probe?module=, in the
	// same Probe schema (thresholds and period unused: /probe runs one
	// attempt). exec is not allowed.
	Modules map[string]*probe.Probe `yaml:"modules"`
	// ProbeEndpoint turns /probe on; without it /probe answers 404.
	ProbeEndpoint *ProbeEndpoint `yaml:"probeEndpoint"`
}

// ProbeEndpoint is what /probe may reach.
type ProbeEndpoint struct {
	// AllowedTargets: CIDRs, IP addresses, host names and globs
	// (*.example.internal), a name with an optional :port (package
	// allowlist).
	AllowedTargets []string `yaml:"allowedTargets"`
	// AllowDiscovered allows, too, any host:port the exporter probes now.
	AllowDiscovered bool `yaml:"allowDiscovered"`
	// MaxConcurrent bounds /probe requests running at once (default 10),
	// apart from the scheduler's --probe.max-in-flight.
	MaxConcurrent int32 `yaml:"maxConcurrent"`
	// DefaultModule is the module of a request without a module
	// parameter. Unset: "http_2xx" when modules has one (blackbox_exporter's
	// default), else such a request is refused with a 400.
	DefaultModule string `yaml:"defaultModule"`
}

// BlackboxDefaultModule is the module blackbox_exporter uses when a
// request names none.
const BlackboxDefaultModule = "http_2xx"

// ModuleFor is the module name a /probe request means: the one it names,
// else DefaultModule, else BlackboxDefaultModule when the config has it; ""
// when there is none.
func (c *Config) ModuleFor(requested string) string {
	switch {
	case requested != "":
		return requested
	case c.ProbeEndpoint != nil && c.ProbeEndpoint.DefaultModule != "":
		return c.ProbeEndpoint.DefaultModule
	}
	if _, ok := c.Modules[BlackboxDefaultModule]; ok {
		return BlackboxDefaultModule
	}
	return ""
}

// Entry is one entry of targets[]: a named set of hosts and the probes to
// run against each of them.
type Entry struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`

	// Exactly one source of targets: static hosts, or a registered
	// discovery source's block (kubernetes: ...), decoded into Discovered.
	Static     StaticList  `yaml:"static"`
	Discovered *Discovered `yaml:"-"`

	// IPFamily is the address family a probed name resolves to: IPv4 or
	// IPv6 asks for A or AAAA records only; unset asks for both and dials
	// IPv4 addresses first. A kubernetes block's own ipFamily (IPv4 or
	// IPv6) applies when this is unset.
	IPFamily string `yaml:"ipFamily"`

	// Expect is what the entry's probes must find: reachable (the
	// default) or unreachable — an isolation check, whose attempts pass
	// when they cannot reach their target (prober.ExpectUnreachable).
	Expect string `yaml:"expect"`

	// RelabelConfigs apply Prometheus relabeling to discovered targets'
	// labels (__meta_kubernetes_*, __address__) before probing.
	RelabelConfigs []relabel.Config `yaml:"relabel_configs"`

	ReadinessProbe *probe.Probe `yaml:"readinessProbe"`
	LivenessProbe  *probe.Probe `yaml:"livenessProbe"`
	StartupProbe   *probe.Probe `yaml:"startupProbe"`
}

// The values of an entry's expect.
const (
	ExpectReachable   = "reachable"
	ExpectUnreachable = "unreachable"
)

// Unreachable says the entry is an isolation check (expect: unreachable).
func (t *Entry) Unreachable() bool { return t.Expect == ExpectUnreachable }

// StaticList is an entry's static: hosts. It is the block of the static
// source, which every entry without a discovery block runs (Source).
type StaticList []StaticHost

// StaticMechanism names the static source, as a registered block's key
// names its mechanism.
const StaticMechanism = "static"

// SetDefaults: static hosts have none.
func (StaticList) SetDefaults() {}

// Validate: static hosts are validated with their entry (validator.target),
// since whether a probe may omit its port depends on every host.
func (StaticList) Validate(Checker, string) {}

// Source is what the entry's targets come from: its discovery block, or
// its static list.
func (t *Entry) Source() *Discovered {
	if t.Discovered != nil {
		return t.Discovered
	}
	return &Discovered{Mechanism: StaticMechanism, Config: t.Static}
}

// StaticHost is one host of a static target list.
type StaticHost struct {
	Host string `yaml:"host"`
	// Port is optional. It is used by probes that name no port themselves
	// and is exposed to exec probes as PROBE_PORT.
	Port   int32             `yaml:"port"`
	Labels map[string]string `yaml:"labels"`
}

// KindProbe is a probe block together with its kind.
type KindProbe struct {
	Kind  probe.Kind
	Probe *probe.Probe
}

// Probes returns the target's configured probes, startup first, so that the
// gate it places on the others is set up before them.
func (t *Entry) Probes() []KindProbe {
	var out []KindProbe
	for _, kp := range []KindProbe{
		{probe.Startup, t.StartupProbe},
		{probe.Liveness, t.LivenessProbe},
		{probe.Readiness, t.ReadinessProbe},
	} {
		if kp.Probe != nil {
			out = append(out, kp)
		}
	}
	return out
}

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// ReadFile reads a configuration file as Load does: a regular file (see
// OpenFile) of at most MaxFileSize bytes.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	// Read one byte past the cap to tell "at the cap" from "over it",
	// without reading a huge file into memory first.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, FieldError{File: path, Msg: fmt.Sprintf("the file is larger than %d MiB, the most one exporter loads "+
			"(decoding takes about 40 bytes of memory per byte of YAML): discover large target sets (kubernetes:), or split them across shards", MaxFileSize>>20)}
	}
	return data, nil
}

// OpenFile opens a configuration file for reading, through symlinks, and
// refuses anything but a regular file without blocking: opening a FIFO
// waits for a writer, and a reload waiting so would hold every later one.
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	return f, nil
}

// MaxFileSize caps a configuration file: what loading costs grows with
// the file (about 40x its size at the peak, for the YAML node tree), and
// a file must not be able to take the exporter's memory. 16 MiB is about
// 275,000 static hosts.
const MaxFileSize = 16 << 20

// Parse decodes, defaults and validates data; filename is used in errors.
func Parse(data []byte, filename string) (*Config, error) {
	// The YAML node tree is short-lived garbage as large as the file's
	// content many times over: collect it eagerly while decoding, so the
	// peak stays near what is live (a 100k-host file: 355 -> 220 MB RSS),
	// and hand it back to the OS afterwards.
	if len(data) > 1<<20 {
		defer debug.SetGCPercent(debug.SetGCPercent(10))
		defer debug.FreeOSMemory()
	}
	var c Config
	d := newDecoder(filename)
	if err := d.decodeDocument(data, &c); err != nil {
		return nil, err
	}
	c.setDefaults()
	v := validator{decoder: d}
	v.config(&c)
	if len(d.errs) > 0 {
		return nil, d.result()
	}
	return &c, nil
}

// setDefaults applies Kubernetes API defaulting (SetDefaults_Probe,
// SetDefaults_HTTPGetAction): zero means "use the default", so that a zero
// never reaches a prober (a zero timeout would mean "wait forever" for HTTP
// and "already expired" for gRPC).
func (c *Config) setDefaults() {
	for _, m := range c.Modules {
		if m != nil {
			m.SetDefaults()
		}
	}
	if e := c.ProbeEndpoint; e != nil && e.MaxConcurrent == 0 {
		e.MaxConcurrent = 10
	}
	for i := range c.Targets {
		for _, kp := range c.Targets[i].Probes() {
			kp.Probe.SetDefaults()
		}
		if d := c.Targets[i].Discovered; d != nil {
			d.Config.SetDefaults()
		}
	}
}

//go:embed default.yaml
var defaultYAML string

// Default is the embedded default configuration, probing an exporter that
// listens at host:port, over HTTPS when https is set.
func Default(host string, port int, https bool) (*Config, error) {
	scheme := "HTTP"
	if https {
		scheme = "HTTPS"
	}
	data := strings.NewReplacer("${LISTEN_HOST}", host, "${LISTEN_PORT}", strconv.Itoa(port), "${LISTEN_SCHEME}", scheme).Replace(defaultYAML)
	return Parse([]byte(data), "<embedded default>")
}
