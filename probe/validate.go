package probe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Reporter takes validation problems at a field path, in Kubernetes'
// field.Error wording (the configuration's validator).
type Reporter interface {
	// Invalid: "Invalid value: <value>: <msg>".
	Invalid(path string, value any, msg string)
	// Add: any other message ("Required value: ...", "Forbidden: ...").
	Add(path, format string, args ...any)
}

var (
	// Kubernetes IsHTTPHeaderName.
	headerNameRE = regexp.MustCompile(`^[-A-Za-z0-9]+$`)
	// IANA_SVC_NAME characters, as Kubernetes IsValidPortName checks them.
	portNameCharsRE = regexp.MustCompile(`^[-a-z0-9]+$`)
)

// Validate checks a defaulted p as the API server does: validateProbe,
// validateHandler, and validateReadinessProbe / validateLivenessProbe /
// validateStartupProbe for kind, reporting at path. One adaptation: a
// port left unset (0) is not judged here, since a target may bring its
// own; the caller decides whether it may.
func (p *Probe) Validate(kind Kind, path string, r Reporter) {
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
			r.Invalid(path+"."+f.name, f.val, "must be greater than or equal to 0")
		}
	}
	if g := p.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		r.Invalid(path+".terminationGracePeriodSeconds", *g, "must be greater than 0")
	}
	switch {
	case kind == Readiness && p.TerminationGracePeriodSeconds != nil:
		r.Invalid(path+".terminationGracePeriodSeconds", *p.TerminationGracePeriodSeconds, "must not be set for readinessProbes")
	case kind != Readiness && p.SuccessThreshold != 1:
		r.Invalid(path+".successThreshold", p.SuccessThreshold, "must be 1")
	}

	// validateHandler: the first handler (in the API's order) is
	// validated; each further one is forbidden, at its own path.
	hs := p.handlers()
	if len(hs) == 0 {
		r.Add(path, "Required value: must specify a handler type (one of exec, httpGet, tcpSocket, grpc)")
		return
	}
	for _, h := range hs[1:] {
		r.Add(path+"."+h.Field(), "Forbidden: may not specify more than 1 handler type")
	}
	hp := path + "." + hs[0].Field()
	switch h := hs[0].(type) {
	case *ExecAction:
		if len(h.Command) == 0 {
			r.Add(hp+".command", "Required value")
		}
	case *HTTPGetAction:
		if h.Scheme != "HTTP" && h.Scheme != "HTTPS" {
			r.Add(hp+".scheme", "Unsupported value: %q: supported values: \"HTTP\", \"HTTPS\"", h.Scheme)
		}
		for i, hd := range h.HTTPHeaders {
			if !headerNameRE.MatchString(hd.Name) {
				r.Invalid(fmt.Sprintf("%s.httpHeaders[%d].name", hp, i), hd.Name,
					"a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')")
			}
		}
		validatePort(h.Port, hp+".port", r)
	case *TCPSocketAction:
		validatePort(h.Port, hp+".port", r)
	case *GRPCAction:
		if h.Port < 1 || h.Port > 65535 {
			r.Invalid(hp+".port", h.Port, "must be between 1 and 65535, inclusive")
		}
	}
}

// validatePort is the API server's ValidatePortNumOrName for a port that
// is set. A quoted number ("8080") is a string to the API server, and
// IsValidPortName rejects it (a name needs a letter); the kubelet's Atoi
// fallback only ever meets objects that passed this, so it is rejected
// here too, with a hint.
func validatePort(p IntOrString, path string, r Reporter) {
	switch {
	case p.IsString:
		msgs := PortNameErrors(p.StrVal)
		// One error per message, as the API server gives them.
		for i, msg := range msgs {
			if _, err := strconv.Atoi(p.StrVal); err == nil && i == len(msgs)-1 {
				msg += " (a port number is an integer: drop the quotes, port: " + p.StrVal + ")"
			}
			r.Invalid(path, p.StrVal, msg)
		}
	case !p.IsZero() && (p.IntVal < 1 || p.IntVal > 65535):
		r.Invalid(path, p.IntVal, "must be between 1 and 65535, inclusive")
	}
}

// PortNameErrors is Kubernetes' IsValidPortName (IANA_SVC_NAME).
func PortNameErrors(port string) []string {
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
