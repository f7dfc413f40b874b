package probe

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestFromCore: a core/v1 Probe field for field, defaulted as the API
// server defaults it (SetDefaults_Probe, SetDefaults_HTTPGetAction).
func TestFromCore(t *testing.T) {
	t.Parallel()
	grace := int64(5)
	for _, c := range []struct {
		name string
		in   corev1.Probe
		want Probe
	}{
		{"httpGet, named port, headers", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-A", Value: "b"}}}}, PeriodSeconds: 5},
			Probe{HTTPGet: &HTTPGetAction{Path: "/", Scheme: "HTTP", Port: IntOrString{IsString: true, StrVal: "http"}, HTTPHeaders: []HTTPHeader{{Name: "X-A", Value: "b"}}},
				PeriodSeconds: 5, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}},
		{"tcpSocket with a host", corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432), Host: "db"}},
			TerminationGracePeriodSeconds: &grace, FailureThreshold: 30},
			Probe{TCPSocket: &TCPSocketAction{Port: IntOrString{IntVal: 5432}, Host: "db"}, TerminationGracePeriodSeconds: &grace,
				PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 30}},
		{"grpc without a service", corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}},
			Probe{GRPC: &GRPCAction{Port: 9090, Service: new(string)}, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}},
		{"exec", corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"pg_isready"}}}},
			Probe{Exec: &ExecAction{Command: []string{"pg_isready"}}, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}},
	} {
		if got := FromCore(&c.in); !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, *got, c.want)
		}
	}
}

// TestPortYAML: a port is written as the file spells it.
func TestPortYAML(t *testing.T) {
	t.Parallel()
	for p, want := range map[IntOrString]string{{IntVal: 8080}: "8080\n", {IsString: true, StrVal: "http"}: "http\n"} {
		if out, err := yaml.Marshal(p); err != nil || string(out) != want {
			t.Errorf("%+v: %q %v", p, out, err)
		}
	}
}
