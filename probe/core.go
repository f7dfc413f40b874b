package probe

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// FromCore is a Kubernetes core/v1 Probe (a pod's, or a manifest's) in
// this schema, field for field, with the API server's defaulting applied:
// the one converter, for the pod role's inheritProbes and for check.
func FromCore(p *corev1.Probe) *Probe {
	out := &Probe{
		InitialDelaySeconds:           p.InitialDelaySeconds,
		TimeoutSeconds:                p.TimeoutSeconds,
		PeriodSeconds:                 p.PeriodSeconds,
		SuccessThreshold:              p.SuccessThreshold,
		FailureThreshold:              p.FailureThreshold,
		TerminationGracePeriodSeconds: p.TerminationGracePeriodSeconds,
	}
	port := func(v intstr.IntOrString) IntOrString {
		if v.Type == intstr.String {
			return IntOrString{IsString: true, StrVal: v.StrVal}
		}
		return IntOrString{IntVal: v.IntVal}
	}
	switch {
	case p.Exec != nil:
		out.Exec = &ExecAction{Command: append([]string(nil), p.Exec.Command...)}
	case p.HTTPGet != nil:
		h := &HTTPGetAction{Path: p.HTTPGet.Path, Port: port(p.HTTPGet.Port), Host: p.HTTPGet.Host, Scheme: string(p.HTTPGet.Scheme)}
		for _, hd := range p.HTTPGet.HTTPHeaders {
			h.HTTPHeaders = append(h.HTTPHeaders, HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		out.HTTPGet = h
	case p.TCPSocket != nil:
		out.TCPSocket = &TCPSocketAction{Port: port(p.TCPSocket.Port), Host: p.TCPSocket.Host}
	case p.GRPC != nil:
		out.GRPC = &GRPCAction{Port: p.GRPC.Port, Service: p.GRPC.Service}
	}
	out.SetDefaults()
	return out
}

// MarshalYAML writes a port as the file spells it: a number or a name.
func (p IntOrString) MarshalYAML() (any, error) {
	if p.IsString {
		return p.StrVal, nil
	}
	return p.IntVal, nil
}
