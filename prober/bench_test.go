package prober

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/config"
)

const benchServerEnv = "PROBE_EXPORTER_BENCH_SERVER"

// benchServer serves "ok" on a loopback port, prints the port, and exits
// when its stdin closes.
func benchServer() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
}

// startBenchServer runs benchServer in a child process.
func startBenchServer(b *testing.B) int {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		b.Fatal(err)
	}
	return port
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baselines holds each raw loop's CPU per op, so the prober sub-benchmark
// that follows it in the same run reports its ratio to it.
var baselines = map[string]float64{}

// measure runs fn b.N times and reports CPU per op; with a baseline of the
// same name it also reports the ratio to it ("x-raw": 1.0 is as cheap as
// the hand-written loop).
func measure(b *testing.B, name string, raw bool, fn func() error) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	cpu := float64(cpuTime()-start) / float64(b.N)
	b.StopTimer()
	b.ReportMetric(cpu, "cpu-ns/op")
	if raw {
		baselines[name] = cpu
	} else if base := baselines[name]; base > 0 {
		b.ReportMetric(cpu/base, "x-raw")
	}
}

// BenchmarkHTTP: the httpGet prober against a hand-written
// dial+GET+read+close loop, same server, same run.
func BenchmarkHTTP(b *testing.B) {
	port := startBenchServer(b)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	req := []byte("GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: raw\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	b.Run("raw", func(b *testing.B) {
		measure(b, "http", true, func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Write(req); err != nil {
				return err
			}
			for {
				n, err := c.Read(buf)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if n == 0 {
					return nil
				}
			}
		})
	})
	b.Run("prober", func(b *testing.B) {
		p := newHTTP(&config.HTTPGetAction{Path: "/healthz", Port: config.IntOrString{IntVal: int32(port)}, Scheme: "HTTP"})
		t := &Target{Host: "127.0.0.1"}
		measure(b, "http", false, func() error { return probeOK(p, t) })
	})
}

// BenchmarkTCP: the tcpSocket prober against a plain dial+close loop.
func BenchmarkTCP(b *testing.B) {
	port := startBenchServer(b)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	b.Run("raw", func(b *testing.B) {
		measure(b, "tcp", true, func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		})
	})
	b.Run("prober", func(b *testing.B) {
		p := &tcpProber{port: config.IntOrString{IntVal: int32(port)}}
		t := &Target{Host: "127.0.0.1"}
		measure(b, "tcp", false, func() error { return probeOK(p, t) })
	})
}

// probeOK makes one attempt and wants a success.
func probeOK(p Prober, t *Target) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if o := p.Probe(ctx, t); o.Result != Success {
		return fmt.Errorf("probe: %v %s", o.Result, o.Output)
	}
	return nil
}
