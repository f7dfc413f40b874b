// Package faults starts hostile targets on loopback for the fault suite:
// servers that stall, trickle, flood, lie about their protocol or loop,
// each as a real socket in this process. Every server stops with its test.
package faults

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// AnyLoopback makes the servers started after it (until t ends) listen on
// every address, so that one server answers on all of 127.0.0.0/8: many
// distinct targets for one fault. It is for tests in a network namespace
// of their own (kubetest.MainInNetns), where nothing else can reach them.
// The addresses returned still name 127.0.0.1.
func AnyLoopback(t testing.TB) {
	bindAll = true
	t.Cleanup(func() { bindAll = false })
}

var bindAll bool

// Listen returns a loopback listener closed when t ends, after every
// connection handler has returned.
func Listen(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	l := listenTCP(t)
	serveConns(t, l, serve)
	return loopbackAddr(l)
}

// ListenOn is Listen on addr (another loopback address: 127.0.0.3:0),
// returning the address listened on.
func ListenOn(t testing.TB, addr string, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serveConns(t, l, serve)
	return l.Addr().String()
}

// serveConns runs serve for each connection l accepts until t ends, then
// closes l and every connection and waits for the handlers.
func serveConns(t testing.TB, l net.Listener, serve func(net.Conn)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// listenTCP listens on a free port of 127.0.0.1, or of every address
// after AnyLoopback.
func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	host := "127.0.0.1"
	if bindAll {
		host = "0.0.0.0"
	}
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// loopbackAddr is l's port on 127.0.0.1.
func loopbackAddr(l net.Listener) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// readRequest reads a request head, so that closing afterwards is a FIN
// and not a reset.
func readRequest(c net.Conn) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(c))
}

// writeSlowly writes chunk every interval until the peer goes or stop.
func writeSlowly(c net.Conn, chunk []byte, interval time.Duration) {
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
		if interval > 0 {
			time.Sleep(interval)
		}
	}
}

// Stall accepts connections and never writes: a TLS handshake, an HTTP
// response or a gRPC preface that never comes.
func Stall(t testing.TB) string {
	return Listen(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
}

// Reply answers each request with reply and closes.
func Reply(t testing.TB, reply string) string {
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err == nil {
			_, _ = io.WriteString(c, reply)
		}
	})
}

// SlowHeaders sends a status line and then a header byte every 100 ms:
// slowloris from the server side.
func SlowHeaders(t testing.TB) string {
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Slow: ")
		writeSlowly(c, []byte("a"), 100*time.Millisecond)
	})
}

// EndlessHeaders sends header fields without end: many short lines, or
// one line that never ends.
func EndlessHeaders(t testing.TB, oneLine bool) string {
	unit := "X-Flood: b\r\n"
	if oneLine {
		unit = "bbbbbbbbbbbb"
	}
	chunk := []byte(strings.Repeat(unit, 4096))
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Start: a\r\n")
		if oneLine {
			_, _ = io.WriteString(c, "X-Endless: ")
		}
		writeSlowly(c, chunk, 0)
	})
}

// EndlessEarlyHints answers with 103 Early Hints heads without end: each
// a complete 1xx response, so only the header limit ends the attempt.
func EndlessEarlyHints(t testing.TB) string {
	chunk := []byte(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n", 1000))
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		writeSlowly(c, chunk, 0)
	})
}

// BigHeaders answers 200 with n bytes of header fields.
func BigHeaders(t testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "X-Big-%d: %s\r\n", i, strings.Repeat("c", 1000))
	}
	b.WriteString("Content-Length: 2\r\n\r\nok")
	return Reply(t, b.String())
}

// SlowBody sends the head at once and then a body byte every 100 ms.
func SlowBody(t testing.TB) string {
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
		writeSlowly(c, []byte("d"), 100*time.Millisecond)
	})
}

// EndlessBody sends a chunked body that never ends, as fast as it can.
func EndlessBody(t testing.TB) string {
	chunk := []byte("1000\r\n" + strings.Repeat("e", 0x1000) + "\r\n")
	return Listen(t, func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		writeSlowly(c, chunk, 0)
	})
}

// Garbage answers any connection with bytes that are no protocol.
func Garbage(t testing.TB) string {
	return Listen(t, func(c net.Conn) {
		_, _ = c.Write([]byte("\x00\xff\x16\x03garbage\r\n\r\n"))
		_, _ = io.Copy(io.Discard, c)
	})
}

// HTTPS serves 200 over TLS (a self-signed certificate).
func HTTPS(t testing.TB) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // "client sent an HTTP request to an HTTPS server" is the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TLSGarbage completes TCP and answers a ClientHello with garbage.
func TLSGarbage(t testing.TB) string {
	return Listen(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = c.Write([]byte("this is not TLS\r\n"))
	})
}

// Redirects answers /hop/N with a redirect to /hop/N-1 on the same host,
// /hop/0 with 200, /loop with a redirect to itself, /away with one to
// another host and /ftp with one to an ftp:// URL on the same host.
func Redirects(t testing.TB) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://"+r.Host+"/file", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// FullBacklog is a listener whose accept queue is full and never drained:
// the kernel drops further SYNs, so a connect hangs as it would on a SYN
// black hole.
func FullBacklog(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	bind := [4]byte{127, 0, 0, 1}
	if bindAll {
		bind = [4]byte{}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: bind}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// A backlog of 0 holds one connection: fill it, and one more that
	// waits in the SYN queue, then every further SYN is dropped.
	for i := 0; i < 2; i++ {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// Blackhole routes a TEST-NET-2 address (198.51.100.1) into one end of a
// veth pair whose other end has no address: frames for it go there and
// vanish, so a connect to it hangs as on a firewall that drops SYNs (a
// permanent neighbour entry keeps ARP out of it). It changes the current
// network namespace, so it is for tests that run in one of their own
// (kubetest.MainInNetns).
func Blackhole(t testing.TB) (string, error) {
	const dev, peer, addr = "pe-bh0", "pe-bh1", "198.51.100.1"
	steps := [][]string{
		{"link", "add", dev, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "up"},
		{"link", "set", dev, "up"},
		{"route", "add", addr + "/32", "dev", dev},
		{"neigh", "replace", addr, "lladdr", "02:00:00:00:00:01", "dev", dev, "nud", "permanent"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			_ = exec.Command("ip", "link", "del", dev).Run()
			return "", fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", dev).Run() })
	return addr, nil
}

// DNSBlackhole listens on 127.0.0.1:53 (UDP and TCP) and never answers:
// a resolver that sends its queries there waits for its timeout. It needs
// the port (root, or a private network namespace).
func DNSBlackhole(t testing.TB) error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:53")
	if err != nil {
		pc.Close()
		return err
	}
	serveConns(t, l, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return nil
}

// GRPCHealth serves the gRPC health service; set switches its overall
// status between SERVING and NOT_SERVING.
func GRPCHealth(t testing.TB, serving bool) (addr string, set func(serving bool)) {
	t.Helper()
	l := listenTCP(t)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	set = func(serving bool) {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if serving {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
	}
	set(serving)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return loopbackAddr(l), set
}
