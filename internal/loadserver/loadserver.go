// Package loadserver runs the test binary itself as a loopback server in
// a child process, for benchmarks that must count only the client's CPU
// (and may pin the server to another core).
package loadserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// env names the mode a child serves in: "http" answers "ok" to every
// request, "https" the same over TLS (a self-signed ECDSA P-256
// certificate made at start), "tcp" accepts and closes.
const env = "PROBE_EXPORTER_LOAD_SERVER"

// Main makes this process the server when it was started as one, and
// never returns then. Call it first thing in TestMain.
func Main() {
	if mode := os.Getenv(env); mode != "" {
		os.Exit(serve(mode))
	}
}

// Start runs the test binary as a server in mode, behind prefix (say
// "taskset", "-c", "1"), with GOMAXPROCS=1, listening on addr; it returns
// the port. The server exits when the benchmark ends.
func Start(tb testing.TB, mode, addr string, prefix ...string) int {
	tb.Helper()
	args := append(append([]string(nil), prefix...), os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", env+"="+mode+","+addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("load server: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		tb.Fatalf("load server said %q", line)
	}
	return port
}

// serve is the child: it prints its port and exits when stdin closes.
func serve(spec string) int {
	mode, addr, _ := strings.Cut(spec, ",")
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	switch mode {
	case "http":
		_ = http.Serve(l, ok)
		return 0
	case "https":
		cert, err := selfSigned()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = http.Serve(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}}), ok)
		return 0
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return 0
		}
		c.Close()
	}
}

// selfSigned is a certificate for the https mode, as a server's usually
// is: ECDSA P-256, valid for a year.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "load.test"}, DNSNames: []string{"load.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
