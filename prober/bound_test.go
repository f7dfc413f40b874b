package prober

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

// stallServer accepts connections and never answers; closed receives, for
// each connection, when the prober's side closed it.
func stallServer(t *testing.T) (port int, closed <-chan time.Time) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan time.Time, 16)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					// Bounded, so the test can't hang on a bug.
					_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
					if _, err := c.Read(buf); err != nil {
						ch <- time.Now()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// TestStalledTLSHandshakeEndsWithTheAttempt: net/http.Transport dials and
// shakes hands detached from the request's cancellation, for up to its
// TLSHandshakeTimeout (10 s). The connection must go when the attempt does:
// at its timeout, or at once when it is cancelled.
func TestStalledTLSHandshakeEndsWithTheAttempt(t *testing.T) {
	const bound = 100 * time.Millisecond
	for _, tc := range []struct {
		name          string
		timeout       time.Duration
		cancelAfter   time.Duration
		wantEndsAfter time.Duration
	}{
		{"timeout", 300 * time.Millisecond, 0, 300 * time.Millisecond},
		{"cancelled", 10 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, closed := stallServer(t)
			a := &probe.HTTPGetAction{Path: "/", Port: probe.IntOrString{IntVal: int32(port)}, Scheme: "HTTPS"}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			start := time.Now()
			o := newHTTP(a, testEnv).Probe(ctx, &Target{Host: "127.0.0.1"})
			returned := time.Since(start)
			if o.Result != Failure {
				t.Errorf("a stalled handshake: got %v %q, want failure", o.Result, o.Output)
			}
			if returned > tc.wantEndsAfter+bound {
				t.Errorf("the attempt returned after %v, want at most %v", returned, tc.wantEndsAfter+bound)
			}
			select {
			case at := <-closed:
				if d := at.Sub(start); d > tc.wantEndsAfter+bound {
					t.Errorf("the connection was closed %v after the start, want at most %v", d, tc.wantEndsAfter+bound)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the connection outlived the attempt by more than 5 s")
			}
		})
	}
}

// TestAttemptDialerOutsideAnAttempt: without an attempt in the context the
// dialer is the plain one.
func TestAttemptDialerOutsideAnAttempt(t *testing.T) {
	port, _ := stallServer(t)
	c, err := attemptDialer{NewDialer()}.DialContext(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("read: %v, want our own deadline's timeout", err)
	}
}

// TestEndlessHeadersEndAtTheTimeout: a target that sends header fields
// forever (or one field forever) fails the attempt at its timeout, or at
// the 10 MiB cap if that comes first, and no later (it used to take 2-4x
// the timeout).
func TestEndlessHeadersEndAtTheTimeout(t *testing.T) {
	for name, unit := range map[string]string{"many fields": "X-A: b\r\n", "one field": "aaaaaaaa"} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				chunk := []byte(strings.Repeat(unit, 512))
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Start: "))
				for {
					// Slowly: 4 KiB every 10 ms never reaches the cap
					// within the timeout.
					if _, err := c.Write(chunk); err != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			const timeout = 500 * time.Millisecond
			a := &probe.HTTPGetAction{Path: "/", Port: probe.IntOrString{IntVal: int32(ln.Addr().(*net.TCPAddr).Port)}, Scheme: "HTTP"}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			o := newHTTP(a, testEnv).Probe(ctx, &Target{Host: "127.0.0.1"})
			if took := time.Since(start); took > timeout+100*time.Millisecond {
				t.Errorf("the attempt took %v on a %v timeout", took, timeout)
			}
			if o.Result != Failure {
				t.Errorf("got %v %q, want failure", o.Result, o.Output)
			}
		})
	}
}
