package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/probe-exporter/probe-exporter/probe"
)

// grpcProber is the kubelet's grpcProber: grpc.health.v1 Check, plaintext,
// one deadline over dial and RPC, only SERVING is success. It never returns
// an error, so gRPC attempts are never retried or discarded.
type grpcProber struct {
	port    int
	service string
	timeout time.Duration
	opts    []grpc.DialOption
	env     *Env
}

func newGRPC(a *probe.GRPCAction, timeout time.Duration, env *Env) *grpcProber {
	return &grpcProber{
		port:    int(a.Port),
		service: *a.Service,
		timeout: timeout,
		env:     env,
		opts: []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUserAgent(env.userAgent),
		},
	}
}

func (p *grpcProber) Type() Type { return GRPC }

// Address is always the target's host: a gRPC probe has no host field.
func (p *grpcProber) Address(t *Target) string {
	return net.JoinHostPort(t.Host, strconv.Itoa(p.port))
}

func (p *grpcProber) Probe(ctx context.Context, t *Target) Outcome {
	addr := p.Address(t)
	port := strconv.Itoa(p.port)
	// gRPC dials on its own goroutine, with a context of its own: the name
	// is resolved here, inside the attempt, and the dialer gRPC calls tries
	// its addresses one after the other (as net.Dialer does for the
	// kubelet), each judged first by the attempt's dial guard.
	ips, err := p.env.addresses(ctx, t.Host)
	if err != nil {
		return Outcome{Result: Failure, Output: fmt.Sprintf("error: failed to connect service at %q: %v", addr, err), Reason: classifyErr(err, false)}
	}
	d := p.env.dialer
	// The last connect's error, for the reason when the channel never
	// became ready (gRPC keeps only its text).
	var lastDial atomic.Pointer[error]
	dial := func(dctx context.Context, target string) (net.Conn, error) {
		if ips == nil { // no resolver of ours: the dialer resolves
			if err := checkGuard(ctx, target); err != nil {
				return nil, err
			}
			return d.DialContext(dctx, "tcp", target)
		}
		return dialSerial(dctx, d, "tcp", ips, port, func(a string) error { return checkGuard(ctx, a) })
	}
	var dialing atomic.Int32
	var connected atomic.Bool
	dialer := func(dctx context.Context, target string) (net.Conn, error) {
		dialing.Add(1)
		defer dialing.Add(-1)
		conn, err := dial(dctx, target)
		if err != nil {
			lastDial.Store(&err)
		} else {
			connected.Store(true)
		}
		return conn, err
	}
	// notReady is the reason a channel that never became ready failed:
	// once a connect has succeeded, the target answered TCP and gRPC is
	// what failed (not HTTP/2, or no answer: gRPC then reconnects, and a
	// redial may be under way at the deadline); before that, the last
	// connect's error, or a first connect still under way at the deadline.
	notReady := func(timedOut bool) Reason {
		switch e := lastDial.Load(); {
		case connected.Load():
			return GRPCUnavailable
		case e != nil:
			return classifyErr(*e, false)
		case timedOut && dialing.Load() > 0:
			return ConnectionTimeout
		}
		return GRPCUnavailable
	}
	opts := append(p.opts[:len(p.opts):len(p.opts)], grpc.WithContextDialer(dialer))
	// passthrough: the name:port goes to our dialer as written, as it did
	// with the kubelet's grpc.DialContext, and is the :authority.
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return Outcome{Result: Failure, Output: fmt.Sprintf("error: failed to connect service at %q: %v", addr, err), Reason: Other}
	}
	defer conn.Close()
	if err := waitReady(ctx, conn); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Outcome{Result: Failure, Output: fmt.Sprintf("timeout: failed to connect service %q within %v: %v", addr, p.timeout, err), Reason: notReady(true)}
		}
		return Outcome{Result: Failure, Output: fmt.Sprintf("error: failed to connect service at %q: %v", addr, err), Reason: notReady(false)}
	}

	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.service})
	if err != nil {
		switch status.Code(err) {
		case codes.Unimplemented:
			return Outcome{Result: Failure, Output: fmt.Sprintf("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", status.Convert(err).Message()), Reason: GRPCUnimplemented}
		case codes.DeadlineExceeded:
			return Outcome{Result: Failure, Output: fmt.Sprintf("timeout: health rpc did not complete within %v", p.timeout), Reason: Timeout}
		case codes.Unavailable:
			return Outcome{Result: Failure, Output: fmt.Sprintf("error: health rpc probe failed: %v", err), Reason: GRPCUnavailable}
		}
		return Outcome{Result: Failure, Output: fmt.Sprintf("error: health rpc probe failed: %v", err), Reason: Other}
	}
	if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Outcome{Result: Failure, Output: fmt.Sprintf("service unhealthy (responded with %q)", res.GetStatus().String()), Reason: GRPCNotServing}
	}
	return Outcome{Result: Success, Output: "service healthy"}
}

// waitReady is grpc.WithBlock without the deprecated API: connect, and keep
// retrying through transient failures until Ready or the deadline.
func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			return ctx.Err()
		}
	}
}
