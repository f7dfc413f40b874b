package prober

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/loadserver"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/probe"
)

// testEnv is the prober environment the tests share.
var testEnv = NewEnv(EnvOptions{})

func TestMain(m *testing.M) {
	// Re-executed by a benchmark as its loopback server, so that the
	// server's CPU is not counted as the prober's.
	loadserver.Main()
	goleak.VerifyTestMain(m)
}

func intPort(n int) probe.IntOrString    { return probe.IntOrString{IntVal: int32(n)} }
func strPort(s string) probe.IntOrString { return probe.IntOrString{IsString: true, StrVal: s} }

func TestResolvePort(t *testing.T) {
	// Semantics doc §8.2, with the container declaring "found" = 93.
	tgt := &Target{NamedPorts: map[string]int32{"found": 93}}
	for _, c := range []struct {
		port probe.IntOrString
		want int
		err  bool
	}{
		{intPort(76), 76, false},
		{strPort("found"), 93, false},
		{strPort("118"), 118, false},
		{intPort(-1), 0, true},
		{strPort(""), 0, true},
		{strPort("-1"), 0, true},
		{strPort("not-found"), 0, true},
		{intPort(66666), 0, true},
	} {
		got, err := resolvePort(c.port, tgt)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("resolvePort(%v) = %d, %v; want %d, err=%v", c.port, got, err, c.want, c.err)
		}
	}
	// No port on the probe: the target's own port, if it has one.
	if got, err := resolvePort(probe.IntOrString{}, &Target{Port: 8080}); got != 8080 || err != nil {
		t.Errorf("target port fallback: %d %v", got, err)
	}
	if _, err := resolvePort(probe.IntOrString{}, &Target{}); err == nil {
		t.Error("no port anywhere should be an error")
	}
}

func TestUnresolvablePortIsAnError(t *testing.T) {
	// An unresolvable port makes the attempt error (retried, then
	// discarded), for every prober that has ports.
	tgt := &Target{Host: "127.0.0.1"}
	for _, p := range []Prober{
		newHTTP(&probe.HTTPGetAction{Port: strPort("http"), Scheme: "HTTP"}, testEnv),
		&tcpProber{port: strPort("http"), dialer: NewDialer()},
	} {
		o := p.Probe(context.Background(), tgt)
		if o.Err == nil || o.Result != Unknown {
			t.Errorf("%s: got %v, err %v", p.Type(), o.Result, o.Err)
		}
		if a := p.Address(tgt); a != "127.0.0.1:http" {
			t.Errorf("%s: address %q", p.Type(), a)
		}
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	received := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(buf) // returns at the prober's close: nothing was sent
		received <- n
	}()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := &tcpProber{port: intPort(port), dialer: NewDialer()}
	if o := p.Probe(ctx, &Target{Host: "127.0.0.1"}); o.Result != Success || o.Output != "" || o.Err != nil {
		t.Fatalf("listening port: %+v", o)
	}
	if n := <-received; n != 0 {
		t.Errorf("the prober sent %d bytes", n)
	}
	// host override wins over the target's host
	p = &tcpProber{host: "127.0.0.1", port: intPort(port), dialer: NewDialer()}
	if a := p.Address(&Target{Host: "192.0.2.1"}); a != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
		t.Errorf("address %q", a)
	}
	p = &tcpProber{port: intPort(closedPort(t)), dialer: NewDialer()}
	if o := p.Probe(ctx, &Target{Host: "127.0.0.1"}); o.Result != Failure || o.Err != nil {
		t.Fatalf("closed port: %+v", o)
	}
	p = &tcpProber{port: intPort(-1), dialer: NewDialer()}
	if o := p.Probe(ctx, &Target{Host: "127.0.0.1"}); o.Err == nil {
		t.Fatalf("port -1: %+v", o)
	}
}

func execProbe(t *testing.T, timeout time.Duration, vars map[string]string, argv ...string) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p := &execProber{command: argv, timeout: timeout, base: execBase(nil)}
	return p.Probe(ctx, &Target{Host: "127.0.0.1", Vars: vars})
}

func TestExec(t *testing.T) {
	for _, c := range []struct {
		name   string
		argv   []string
		want   Result
		err    bool
		output string
	}{
		{"success with output", []string{"/bin/sh", "-c", "echo OK"}, Success, false, "OK\n"},
		{"exit 1 is failure", []string{"/bin/sh", "-c", "echo no >&2; exit 1"}, Failure, false, "no\n"},
		{"stdout and stderr combined in order", []string{"/bin/sh", "-c", "echo a; echo b >&2; echo c"}, Success, false, "a\nb\nc\n"},
		{"no shell: argv as is", []string{"/bin/echo", "$HOME", "a b"}, Success, false, "$HOME a b\n"},
		{"missing command is an error", []string{"/nonexistent/probe"}, Unknown, true, ""},
		{"killed by a signal is failure", []string{"/bin/sh", "-c", "kill -9 $$"}, Failure, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := execProbe(t, 5*time.Second, nil, c.argv...)
			if o.Result != c.want || (o.Err != nil) != c.err {
				t.Fatalf("got %v err=%v output=%q", o.Result, o.Err, o.Output)
			}
			if c.output != "" && o.Output != c.output {
				t.Errorf("output %q, want %q", o.Output, c.output)
			}
		})
	}
	t.Run("11 KiB output is truncated to 10 KiB", func(t *testing.T) {
		o := execProbe(t, 5*time.Second, nil, "/bin/sh", "-c", "head -c 11264 /dev/zero")
		if o.Result != Success || len(o.Output) != 10240 {
			t.Fatalf("got %v len=%d", o.Result, len(o.Output))
		}
	})
	t.Run("variables expand and reach the environment", func(t *testing.T) {
		vars := map[string]string{"PROBE_HOST": "127.0.0.1", "PROBE_PORT": "80"}
		o := execProbe(t, 5*time.Second, vars, "/bin/sh", "-c", `echo "$1 $PROBE_HOST"`, "sh", "$(PROBE_HOST):$(PROBE_PORT) $(UNDEFINED) $$(PROBE_HOST)")
		if want := "127.0.0.1:80 $(UNDEFINED) $(PROBE_HOST) 127.0.0.1\n"; o.Output != want {
			t.Fatalf("output %q, want %q", o.Output, want)
		}
	})
}

// TestExecTimeoutKillsProcessGroup: a child that ignores SIGTERM, and one
// that it forked, must not outlive the timeout.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	o := execProbe(t, 300*time.Millisecond, nil, "/bin/sh", "-c",
		fmt.Sprintf(`trap "" TERM; sleep 60 & echo $! > %s; sleep 60`, pidFile))
	elapsed := time.Since(start)
	if o.Result != Failure || !strings.Contains(o.Output, "timed out") {
		t.Fatalf("got %v %q", o.Result, o.Output)
	}
	// Generous bound: the point is "not 60 s", not a speed figure.
	if elapsed > 5*time.Second {
		t.Errorf("probe took %v on a 300ms timeout", elapsed)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	await.True(t, "forked child "+pid+" to die", func() bool { return !processAlive(pid) })
}

// TestExecBackgroundChildDoesNotHoldProbe: a command that exits 0 but leaves
// a child holding its output pipe succeeds promptly, and the child is gone.
func TestExecBackgroundChildDoesNotHoldProbe(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	o := execProbe(t, 10*time.Second, nil, "/bin/sh", "-c",
		fmt.Sprintf(`sleep 60 & echo $! > %s; echo done`, pidFile))
	if o.Result != Success || o.Output != "done\n" {
		t.Fatalf("got %v %q", o.Result, o.Output)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	await.True(t, "background child "+pid+" to die", func() bool { return !processAlive(pid) })
}

// processAlive treats a zombie as dead: it has exited and only waits to be
// reaped by its new parent.
func processAlive(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	for in, want := range map[string]string{
		"$(A)":        "x",
		"pre$(A)post": "prexpost",
		"$(B)":        "$(B)",
		"$$(A)":       "$(A)",
		"$$":          "$",
		"$(EMPTY)":    "",
		"$(A":         "$(A",
		"$A":          "$A",
		"$":           "$",
		"a$":          "a$",
		"$(A)$(A)":    "xx",
		"no vars":     "no vars",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

type slowHealth struct {
	healthpb.UnimplementedHealthServer
	delay time.Duration
}

func (s slowHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func grpcServer(t *testing.T, register func(*grpc.Server)) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().(*net.TCPAddr).Port
}

func grpcProbe(port int, service string, timeout time.Duration) Outcome {
	p := newGRPC(&probe.GRPCAction{Port: int32(port), Service: &service}, timeout, testEnv)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx, &Target{Host: "127.0.0.1"})
}

func TestGRPC(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	healthy := grpcServer(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hs) })
	noHealth := grpcServer(t, func(*grpc.Server) {})
	slow := grpcServer(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, slowHealth{delay: 4 * time.Second}) })
	h1 := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer h1.Close()
	h1Port, _ := strconv.Atoi(h1.URL[strings.LastIndexByte(h1.URL, ':')+1:])
	closed := closedPort(t)

	for _, c := range []struct {
		name    string
		port    int
		service string
		timeout time.Duration
		want    Result
		output  string
	}{
		{"SERVING", healthy, "", time.Second, Success, "service healthy"},
		{"named service SERVING", healthy, "up", time.Second, Success, "service healthy"},
		{"NOT_SERVING", healthy, "down", time.Second, Failure, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service is NotFound", healthy, "nope", time.Second, Failure, "error: health rpc probe failed: "},
		{"no health service", noHealth, "", time.Second, Failure, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"},
		{"slow Check", slow, "", 300 * time.Millisecond, Failure, "timeout: health rpc did not complete within 300ms"},
		{"nothing listening", closed, "", 300 * time.Millisecond, Failure,
			fmt.Sprintf(`timeout: failed to connect service "127.0.0.1:%d" within 300ms: context deadline exceeded`, closed)},
		{"an HTTP/1 server", h1Port, "", 300 * time.Millisecond, Failure, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			o := grpcProbe(c.port, c.service, c.timeout)
			if o.Result != c.want || o.Err != nil || !strings.Contains(o.Output, c.output) {
				t.Fatalf("got %v err=%v %q; want %v %q", o.Result, o.Err, o.Output, c.want, c.output)
			}
			// The deadline covers dial and RPC: never the 4 s the slow server takes.
			if d := time.Since(start); d > c.timeout+2*time.Second {
				t.Errorf("took %v on a %v timeout", d, c.timeout)
			}
		})
	}
}

// TestJoinHostPort: what an attempt dials is net.JoinHostPort's string,
// for every shape of host.
func TestJoinHostPort(t *testing.T) {
	for _, c := range []struct {
		host string
		port int
	}{
		{"127.0.0.1", 80}, {"::1", 8080}, {"fe80::1%eth0", 65535}, {"web.test", 0},
		{"", 9}, {strings.Repeat("a", 200), 443}, {"[::1]", 1},
	} {
		if got, want := joinHostPort(c.host, c.port), net.JoinHostPort(c.host, strconv.Itoa(c.port)); got != want {
			t.Errorf("joinHostPort(%q, %d) = %q, net.JoinHostPort says %q", c.host, c.port, got, want)
		}
	}
}
