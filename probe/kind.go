// Package probe is the Kubernetes Probe schema as the exporter uses it,
// from the configuration file to the series' kind label: for now the
// probe kinds, which every stage from the configuration to the readers
// names without needing the configuration itself.
package probe

import "fmt"

// Kind is readiness, liveness or startup.
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
