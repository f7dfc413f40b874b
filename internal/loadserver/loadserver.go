// Package loadserver runs the test binary itself as a loopback server in
// a child process, for benchmarks that must count only the client's CPU
// (and may pin the server to another core).
package loadserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// env names the mode a child serves in: "http" answers "ok" to every
// request, "tcp" accepts and closes.
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
	if mode == "http" {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
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
