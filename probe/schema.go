package probe

import "strconv"

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
