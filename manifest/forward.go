package manifest

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/probe-exporter/probe-exporter/probe"
)

// Forward is one --port-forward: a probe of container port Remote (a
// number or one of the container's port names) goes to port Local.
type Forward struct {
	Local  int32
	Remote string
}

// ParsePortForwards reads --port-forward values in kubectl port-forward's
// order: LOCAL:REMOTE, or PORT for the same number on both sides.
func ParsePortForwards(specs []string) ([]Forward, error) {
	var out []Forward
	seen := map[string]bool{}
	for _, spec := range specs {
		local, remote, found := strings.Cut(spec, ":")
		if !found {
			remote = local
		}
		n, err := strconv.Atoi(local)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--port-forward %q: LOCAL must be a port number (1-65535); a random local port can't be probed", spec)
		}
		if r, err := strconv.Atoi(remote); err == nil {
			if r < 1 || r > 65535 {
				return nil, fmt.Errorf("--port-forward %q: REMOTE %d is not a port number (1-65535)", spec, r)
			}
		} else if msgs := validation.IsValidPortName(remote); len(msgs) > 0 {
			return nil, fmt.Errorf("--port-forward %q: REMOTE %q is neither a port number nor a port name: %s", spec, remote, strings.Join(msgs, "; "))
		}
		if seen[remote] {
			return nil, fmt.Errorf("--port-forward %q: container port %s is forwarded twice", spec, remote)
		}
		seen[remote] = true
		out = append(out, Forward{Local: int32(n), Remote: remote})
	}
	return out, nil
}

// forward is the local port a probe of container port n goes to, and
// whether one does.
func forward(fs []Forward, n int32, ports []corev1.ContainerPort) (int32, bool) {
	for _, f := range fs {
		if f.Remote == strconv.Itoa(int(n)) {
			return f.Local, true
		}
		for _, cp := range ports {
			if cp.Name != "" && cp.Name == f.Remote && cp.ContainerPort == n {
				return f.Local, true
			}
		}
	}
	return 0, false
}

// forwardPorts points p's handler at the local port its container port
// is forwarded to.
func forwardPorts(p *probe.Probe, fs []Forward, ports []corev1.ContainerPort) error {
	var n *int32
	switch h := p.Handler().(type) {
	case *probe.HTTPGetAction:
		n = &h.Port.IntVal
	case *probe.TCPSocketAction:
		n = &h.Port.IntVal
	case *probe.GRPCAction:
		n = &h.Port
	default:
		return nil
	}
	local, ok := forward(fs, *n, ports)
	if !ok {
		return fmt.Errorf("container port %d is not forwarded (--port-forward LOCAL:%d)", *n, *n)
	}
	*n = local
	return nil
}
