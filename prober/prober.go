// Package prober runs one attempt of a Kubernetes probe (httpGet, tcpSocket,
// exec, grpc) against one target, with the kubelet's exact semantics
// (pkg/probe/* and pkg/kubelet/prober/prober.go). Timing, thresholds and
// state live elsewhere: a prober only knows how to do one attempt.
package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

// Type is a probe's handler, as the Probe schema names it.
type Type uint8

// The handlers.
const (
	HTTPGet Type = iota
	TCPSocket
	Exec
	GRPC
)

// Types lists every Type, for metrics that pre-create a series per type.
var Types = []Type{HTTPGet, TCPSocket, Exec, GRPC}

func (t Type) String() string {
	switch t {
	case TCPSocket:
		return "tcpSocket"
	case Exec:
		return "exec"
	case GRPC:
		return "grpc"
	}
	return "httpGet"
}

// Result is the kubelet's low-level probe.Result.
type Result uint8

const (
	// Unknown is returned together with an error: the attempt could not be
	// made (a port that doesn't resolve, an exec that couldn't start).
	Unknown Result = iota
	Success
	// Warning is "logically success, with debugging information": an HTTP
	// 3xx that was not followed. The kubelet records it as Success.
	Warning
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Warning:
		return "warning"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Outcome is what one attempt produced.
type Outcome struct {
	Result Result
	// Output is the kubelet's output text (body, command output or reason).
	// It goes to debug logs only: never to a label.
	Output string
	// Err is set when the attempt errored rather than failed. The kubelet
	// retries such attempts and then discards them.
	Err error
	// StatusCode is the HTTP status of the last response, 0 if none.
	StatusCode int
	// LookedUp says the attempt resolved a name (its host is not an IP
	// address); Lookup is how long its lookups took in all.
	LookedUp bool
	Lookup   time.Duration
	// Reason is the class of a failed or errored attempt (NoReason when
	// it succeeded): a bounded label value, unlike Output and Err.
	Reason Reason
	// TLS is what an HTTPS attempt's handshake showed, nil without one
	// (shared: never written).
	TLS *TLSFacts
}

// Target is what a probe runs against.
type Target struct {
	// Host is the target's address (the pod IP in the kubelet); a probe's
	// own host field overrides it.
	Host string
	// Port is the target's port, 0 when it has none. A probe that names no
	// port uses it.
	Port int32
	// NamedPorts resolves a probe's named port (the container's ports in
	// the kubelet). Empty for static targets.
	NamedPorts map[string]int32
	// Vars are exposed to exec probes, for $(VAR) expansion and as
	// environment variables.
	Vars map[string]string
	// Via, when set, is the address an httpGet probe connects to instead
	// of Host, which stays the URL's host, Host header and TLS server
	// name (an Ingress rule's host, through its controller's address).
	Via string
}

// Prober does one attempt. Probe must return by ctx's deadline.
type Prober interface {
	Probe(ctx context.Context, t *Target) Outcome
	// Address is the host:port (or host) the probe reaches for t, for the
	// address label.
	Address(t *Target) string
	// Type is the probe's handler.
	Type() Type
}

// MaxRetries is the kubelet's maxProbeRetries: an attempt that errors is
// tried again up to this many times in all, never one that failed.
const MaxRetries = 3

// Run makes up to MaxRetries attempts, each with its own timeout, stopping
// at the first that does not error; it calls attempt after each one with
// how long it took by now.
func Run(ctx context.Context, p Prober, t *Target, timeout time.Duration, now func() time.Time, attempt func(Outcome, time.Duration)) Outcome {
	var none *Stop
	return none.Run(ctx, p, t, timeout, now, attempt)
}

// attempt is one attempt's context and trace, and how to end it.
type attempt struct {
	ctx   context.Context
	trace *trace
	// On the attempt clock, clock is the context; otherwise cancel ends it.
	clock  *attemptCtx
	cancel context.CancelFunc
}

func (a attempt) end() {
	if a.clock != nil {
		a.clock.end()
		return
	}
	a.cancel()
}

// startAttempt gives an attempt its context, on the attempt clock or
// with a timer of its own, and its trace.
func startAttempt(ctx context.Context, timeout time.Duration, onClock bool) attempt {
	if onClock {
		c := clock.start(ctx, timeout)
		return attempt{ctx: c, trace: &c.trace, clock: c}
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	actx, tr := withTrace(actx)
	return attempt{ctx: actx, trace: tr, cancel: cancel}
}

// resolvePort is the kubelet's ResolveContainerPort, plus the fallback to
// the target's own port when the probe names none.
func resolvePort(p probe.IntOrString, t *Target) (int, error) {
	if p.IsZero() {
		if t.Port == 0 {
			return 0, errors.New("probe has no port and the target has none")
		}
		return int(t.Port), nil
	}
	port := int(p.IntVal)
	if p.IsString {
		if n, ok := t.NamedPorts[p.StrVal]; ok {
			port = int(n)
		} else {
			// The kubelet's last-ditch attempt: "8080" works as a name.
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return 0, fmt.Errorf("unable to find port %q", p.StrVal)
			}
			port = n
		}
	}
	if port <= 0 || port >= 65536 {
		return 0, fmt.Errorf("invalid port number: %d", port)
	}
	return port, nil
}

// hostPort joins the probe's host (or the target's) with the resolved port;
// an unresolved port is shown by its name, so the address label still says
// what was meant.
func hostPort(host string, p probe.IntOrString, t *Target) (string, error) {
	if host == "" {
		host = t.Host
	}
	port, err := resolvePort(p, t)
	if err != nil {
		return net.JoinHostPort(host, p.String()), err
	}
	return joinHostPort(host, port), nil
}

// joinHostPort is net.JoinHostPort(host, strconv.Itoa(port)) in one
// allocation, not two: it runs once per attempt.
func joinHostPort(host string, port int) string {
	var b [64]byte
	return string(appendHostPort(b[:0], host, port))
}

// appendHostPort appends host and port as net.JoinHostPort writes them:
// the host in brackets when it holds a colon.
func appendHostPort[S string | []byte](b []byte, host S, port int) []byte {
	bracket := false
	for i := 0; i < len(host); i++ {
		if host[i] == ':' {
			bracket = true
			break
		}
	}
	if bracket {
		b = append(append(append(b, '['), host...), ']')
	} else {
		b = append(b, host...)
	}
	return strconv.AppendInt(append(b, ':'), int64(port), 10)
}

// limitWriter keeps the first n bytes written and drops the rest silently,
// as the kubelet's ioutils.LimitWriter does for exec output.
type limitWriter struct {
	buf []byte
	n   int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if room := w.n - len(w.buf); room > 0 {
		if len(p) > room {
			w.buf = append(w.buf, p[:room]...)
		} else {
			w.buf = append(w.buf, p...)
		}
	}
	return len(p), nil
}

// maxReadLength is the kubelet's 10 KiB cap on bodies and command output.
const maxReadLength = 10 * 1024
