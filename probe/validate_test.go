package probe

import (
	"fmt"
	"strings"
	"testing"
)

// report records problems as "path: message".
type report []string

func (r *report) Invalid(path string, value any, msg string) {
	*r = append(*r, fmt.Sprintf("%s: Invalid value: %v: %s", path, value, msg))
}

func (r *report) Add(path, format string, args ...any) {
	*r = append(*r, path+": "+fmt.Sprintf(format, args...))
}

// TestValidate: the API server's probe rules (validateProbe,
// validateHandler, the kinds' rules), as kubectl reports them.
func TestValidate(t *testing.T) {
	t.Parallel()
	grace := int64(0)
	ten := int64(10)
	for _, tc := range []struct {
		name string
		kind Kind
		p    Probe
		want []string
	}{
		{"valid httpGet", Readiness, Probe{HTTPGet: &HTTPGetAction{Port: IntOrString{IntVal: 80}}}, nil},
		{"an unset port is the caller's", Readiness, Probe{TCPSocket: &TCPSocketAction{}}, nil},
		{"negative fields", Readiness, Probe{TCPSocket: &TCPSocketAction{}, InitialDelaySeconds: -1, FailureThreshold: -2}, []string{
			"p.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
			"p.failureThreshold: Invalid value: -2: must be greater than or equal to 0"}},
		{"liveness successThreshold", Liveness, Probe{TCPSocket: &TCPSocketAction{}, SuccessThreshold: 2}, []string{
			"p.successThreshold: Invalid value: 2: must be 1"}},
		{"startup successThreshold", Startup, Probe{TCPSocket: &TCPSocketAction{}, SuccessThreshold: 3}, []string{
			"p.successThreshold: Invalid value: 3: must be 1"}},
		{"readiness grace period", Readiness, Probe{TCPSocket: &TCPSocketAction{}, TerminationGracePeriodSeconds: &ten}, []string{
			"p.terminationGracePeriodSeconds: Invalid value: 10: must not be set for readinessProbes"}},
		{"liveness grace period 0", Liveness, Probe{TCPSocket: &TCPSocketAction{}, SuccessThreshold: 1, TerminationGracePeriodSeconds: &grace}, []string{
			"p.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"}},
		{"no handler", Readiness, Probe{}, []string{
			"p: Required value: must specify a handler type (one of exec, httpGet, tcpSocket, grpc)"}},
		{"two handlers: the second forbidden, the first validated", Readiness, Probe{Exec: &ExecAction{}, GRPC: &GRPCAction{}}, []string{
			"p.grpc: Forbidden: may not specify more than 1 handler type",
			"p.exec.command: Required value"}},
		{"scheme and header", Readiness, Probe{HTTPGet: &HTTPGetAction{Scheme: "FTP", HTTPHeaders: []HTTPHeader{{Name: "X Bad"}}}}, []string{
			`p.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
			"p.httpGet.httpHeaders[0].name: Invalid value: X Bad: a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"}},
		{"port out of range", Readiness, Probe{TCPSocket: &TCPSocketAction{Port: IntOrString{IntVal: 70000}}}, []string{
			"p.tcpSocket.port: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"a quoted number is a name, with a hint", Readiness, Probe{TCPSocket: &TCPSocketAction{Port: IntOrString{IsString: true, StrVal: "8080"}}}, []string{
			"p.tcpSocket.port: Invalid value: 8080: must contain at least one letter (a-z) (a port number is an integer: drop the quotes, port: 8080)"}},
		{"grpc needs a port", Readiness, Probe{GRPC: &GRPCAction{}}, []string{
			"p.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive"}},
	} {
		p := tc.p
		if p.HTTPGet != nil && p.HTTPGet.Scheme == "" {
			p.HTTPGet.Scheme = "HTTP"
		}
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = 1
		}
		var r report
		p.Validate(tc.kind, "p", &r)
		if strings.Join(r, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, r, tc.want)
		}
	}
}

// TestHandler: the handler is the first set in the API's order.
func TestHandler(t *testing.T) {
	t.Parallel()
	p := Probe{TCPSocket: &TCPSocketAction{Port: IntOrString{IntVal: 5}}, HTTPGet: &HTTPGetAction{}}
	if h := p.Handler(); h.Field() != "httpGet" {
		t.Errorf("handler %s", h.Field())
	}
	if (&Probe{}).Handler() != nil {
		t.Error("a probe without a handler has one")
	}
	if got := Port(p.TCPSocket); got.IntVal != 5 {
		t.Errorf("port %v", got)
	}
}
