// Package config defines probe-exporter's configuration file: its schema,
// Kubernetes API defaulting and validation of probe blocks, and loading with
// errors that name file:line:column and the field path.
package config

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/probe-exporter/probe-exporter/relabel"
)

// Config is the whole configuration file.
type Config struct {
	Targets []Entry `yaml:"targets"`
}

// Entry is one entry of targets[]: a named set of hosts and the probes to
// run against each of them.
type Entry struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`

	// Exactly one source of targets.
	Static     []StaticHost `yaml:"static"`
	Kubernetes *Kubernetes  `yaml:"kubernetes"`

	// RelabelConfigs apply Prometheus relabeling to discovered targets'
	// labels (__meta_kubernetes_*, __address__) before probing.
	RelabelConfigs []relabel.Config `yaml:"relabel_configs"`

	ReadinessProbe *Probe `yaml:"readinessProbe"`
	LivenessProbe  *Probe `yaml:"livenessProbe"`
	StartupProbe   *Probe `yaml:"startupProbe"`
}

// StaticHost is one host of a static target list.
type StaticHost struct {
	Host string `yaml:"host"`
	// Port is optional. It is used by probes that name no port themselves
	// and is exposed to exec probes as PROBE_PORT.
	Port   int32             `yaml:"port"`
	Labels map[string]string `yaml:"labels"`
}

// Kubernetes discovers targets from a cluster.
type Kubernetes struct {
	// Role is service, endpointslice, pod or statefulset.
	Role string `yaml:"role"`
	// Namespaces to watch; empty means all.
	Namespaces []string `yaml:"namespaces"`
	// LabelSelector and FieldSelector filter objects as kubectl's do.
	LabelSelector string `yaml:"labelSelector"`
	FieldSelector string `yaml:"fieldSelector"`
	// Kubeconfig and Context choose the cluster; by default in-cluster,
	// then --kubeconfig, $KUBECONFIG, ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	// Address is where the service role probes a Service: dns (default),
	// clusterIP, loadBalancer or nodePort.
	Address string `yaml:"address"`
	// ClusterDomain for service DNS names and StatefulSet pod names.
	ClusterDomain string `yaml:"clusterDomain"`
	// InheritProbes (pod role) runs each container's own probes.
	InheritProbes bool `yaml:"inheritProbes"`
	// Scope is cluster (default), node (only this node's endpoints or
	// pods, for a DaemonSet) or mesh (this node's plus MeshPeers others).
	Scope     string `yaml:"scope"`
	MeshPeers int32  `yaml:"meshPeers"`
	// IPFamily picks endpoint addresses on dual-stack clusters: primary
	// (default: the family of the first address), IPv4 or IPv6.
	IPFamily string `yaml:"ipFamily"`
	// AttachMetadata adds the node's and the namespace's labels and
	// annotations as __meta_* labels, as Prometheus' attach_metadata.
	AttachMetadata AttachMetadata `yaml:"attach_metadata"`
}

// AttachMetadata is Prometheus' kubernetes_sd attach_metadata.
type AttachMetadata struct {
	// Node: __meta_kubernetes_node_* of the target's node (roles pod and
	// endpointslice); needs get, list and watch on nodes.
	Node bool `yaml:"node"`
	// Namespace: __meta_kubernetes_namespace_* (roles pod, endpointslice,
	// service, statefulset); needs get, list and watch on namespaces.
	Namespace bool `yaml:"namespace"`
}

// Discovery roles and their options.
const (
	RoleService       = "service"
	RoleEndpointSlice = "endpointslice"
	RolePod           = "pod"
	RoleStatefulSet   = "statefulset"

	ScopeCluster = "cluster"
	ScopeNode    = "node"
	ScopeMesh    = "mesh"
)

// Probe is the Kubernetes core/v1 Probe schema, field for field, so that a
// container's probe block can be pasted unchanged.
type Probe struct {
	Exec      *ExecAction      `yaml:"exec"`
	HTTPGet   *HTTPGetAction   `yaml:"httpGet"`
	TCPSocket *TCPSocketAction `yaml:"tcpSocket"`
	GRPC      *GRPCAction      `yaml:"grpc"`

	InitialDelaySeconds int32 `yaml:"initialDelaySeconds"`
	TimeoutSeconds      int32 `yaml:"timeoutSeconds"`
	PeriodSeconds       int32 `yaml:"periodSeconds"`
	SuccessThreshold    int32 `yaml:"successThreshold"`
	FailureThreshold    int32 `yaml:"failureThreshold"`
	// TerminationGracePeriodSeconds is accepted and validated for
	// compatibility with pasted pod specs; there is no container to kill, so
	// it has no effect.
	TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
}

// ExecAction runs a command locally, without a shell.
type ExecAction struct {
	Command []string `yaml:"command"`
}

// HTTPGetAction is core/v1 HTTPGetAction.
type HTTPGetAction struct {
	Path        string       `yaml:"path"`
	Port        IntOrString  `yaml:"port"`
	Host        string       `yaml:"host"`
	Scheme      string       `yaml:"scheme"`
	HTTPHeaders []HTTPHeader `yaml:"httpHeaders"`
}

// HTTPHeader is one custom request header.
type HTTPHeader struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// TCPSocketAction is core/v1 TCPSocketAction.
type TCPSocketAction struct {
	Port IntOrString `yaml:"port"`
	Host string      `yaml:"host"`
}

// GRPCAction is core/v1 GRPCAction. Port is an integer only, as in Kubernetes.
type GRPCAction struct {
	Port    int32   `yaml:"port"`
	Service *string `yaml:"service"`
}

// IntOrString mirrors k8s.io/apimachinery's intstr.IntOrString for ports.
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// IsZero reports whether the port was left unset (Kubernetes' zero value).
func (p IntOrString) IsZero() bool { return !p.IsString && p.IntVal == 0 }

func (p IntOrString) String() string {
	if p.IsString {
		return p.StrVal
	}
	return strconv.Itoa(int(p.IntVal))
}

// Kind is readiness, liveness or startup: the one probe kind type of the
// exporter, from the config file to the series' kind label.
type Kind uint8

// Probe kinds.
const (
	Readiness Kind = iota
	Liveness
	Startup
)

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "liveness"
	case Startup:
		return "startup"
	}
	return "readiness"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "readiness":
		return Readiness, nil
	case "liveness":
		return Liveness, nil
	case "startup":
		return Startup, nil
	}
	return 0, fmt.Errorf("unknown probe kind %q", s)
}

// KindProbe is a probe block together with its kind.
type KindProbe struct {
	Kind  Kind
	Probe *Probe
}

// Probes returns the target's configured probes, startup first, so that the
// gate it places on the others is set up before them.
func (t *Entry) Probes() []KindProbe {
	var out []KindProbe
	for _, kp := range []KindProbe{
		{Startup, t.StartupProbe},
		{Liveness, t.LivenessProbe},
		{Readiness, t.ReadinessProbe},
	} {
		if kp.Probe != nil {
			out = append(out, kp)
		}
	}
	return out
}

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes, defaults and validates data; filename is used in errors.
func Parse(data []byte, filename string) (*Config, error) {
	var c Config
	d := newDecoder(filename)
	if err := d.decodeDocument(data, &c); err != nil {
		return nil, err
	}
	c.setDefaults()
	v := validator{decoder: d}
	v.config(&c)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return &c, nil
}

// setDefaults applies Kubernetes API defaulting (SetDefaults_Probe,
// SetDefaults_HTTPGetAction): zero means "use the default", so that a zero
// never reaches a prober (a zero timeout would mean "wait forever" for HTTP
// and "already expired" for gRPC).
func (c *Config) setDefaults() {
	for i := range c.Targets {
		for _, kp := range c.Targets[i].Probes() {
			kp.Probe.SetDefaults()
		}
		if k := c.Targets[i].Kubernetes; k != nil {
			k.setDefaults()
		}
	}
}

// SetDefaults applies Kubernetes API defaulting to p.
func (p *Probe) SetDefaults() {
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if h := p.HTTPGet; h != nil {
		if h.Path == "" {
			h.Path = "/"
		}
		if h.Scheme == "" {
			h.Scheme = "HTTP"
		}
	}
	if g := p.GRPC; g != nil && g.Service == nil {
		empty := ""
		g.Service = &empty
	}
}

func (k *Kubernetes) setDefaults() {
	if k.ClusterDomain == "" {
		k.ClusterDomain = "cluster.local"
	}
	if k.Role == RoleService && k.Address == "" {
		k.Address = "dns"
	}
	if k.Scope == "" {
		k.Scope = ScopeCluster
	}
	if k.Scope == ScopeMesh && k.MeshPeers == 0 {
		k.MeshPeers = 3
	}
	if k.IPFamily == "" {
		k.IPFamily = "primary"
	}
}

//go:embed default.yaml
var defaultYAML string

// Default is the embedded default configuration, probing an exporter that
// listens on port listenPort.
func Default(host string, port int, https bool) (*Config, error) {
	scheme := "HTTP"
	if https {
		scheme = "HTTPS"
	}
	data := strings.NewReplacer("${LISTEN_HOST}", host, "${LISTEN_PORT}", strconv.Itoa(port), "${LISTEN_SCHEME}", scheme).Replace(defaultYAML)
	return Parse([]byte(data), "<embedded default>")
}
