package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/probe-exporter/probe-exporter/internal/golden"
)

// runBinary runs the exporter with args to its end and returns its
// stdout, stderr and exit code.
func runBinary(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	t.Fatal(err)
	return "", "", -1
}

// TestOnce: --once answers with the thresholds as configured, prints a
// table or JSON (pinned by golden files, with ports and durations
// normalised), and exits 0 only when every state is success, 1 when one
// is not, 2 when it could not run.
func TestOnce(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer ok.Close()
	_, okPort, _ := net.SplitHostPort(ok.Listener.Addr().String())
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		writeConfig(t, p, text)
		return p
	}
	passing := write("pass.yaml", fmt.Sprintf(`
targets:
  - name: web
    labels: {team: shop}
    static: [{host: 127.0.0.1, port: %s}]
    readinessProbe: {httpGet: {path: /}, periodSeconds: 1, successThreshold: 2}
    livenessProbe: {tcpSocket: {}, periodSeconds: 1}
`, okPort))
	failing := write("fail.yaml", fmt.Sprintf(`
targets:
  - name: web
    static: [{host: 127.0.0.1, port: %s}]
    readinessProbe: {httpGet: {path: /fail}, periodSeconds: 1, failureThreshold: 2}
  - name: gone
    static: [{host: 127.0.0.1, port: %s}]
    startupProbe: {tcpSocket: {}, periodSeconds: 1, failureThreshold: 1}
    livenessProbe: {tcpSocket: {}, periodSeconds: 1}
  - name: script
    static: [{host: 127.0.0.1}]
    livenessProbe: {exec: {command: [/bin/sh, -c, "echo it broke; exit 1"]}, periodSeconds: 1, failureThreshold: 1}
`, okPort, closedPort))
	slow := write("slow.yaml", fmt.Sprintf(`
targets:
  - name: gone
    static: [{host: 127.0.0.1, port: %s}]
    readinessProbe: {tcpSocket: {}, periodSeconds: 1, failureThreshold: 50}
`, closedPort))
	empty := write("empty.yaml", "targets: []\n")
	bad := write("bad.yaml", "targets:\n  - name: x\n    bogus: 1\n")

	normalise := func(s string) string {
		return normaliseAnswers(strings.NewReplacer(okPort, "PORT", closedPort, "CLOSED").Replace(s))
	}
	for _, c := range []struct {
		name, config, output string
		exit                 int
	}{
		{"pass", passing, "table", 0},
		{"pass", passing, "json", 0},
		{"fail", failing, "table", 1},
		{"fail", failing, "json", 1},
	} {
		t.Run(c.name+"_"+c.output, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, "--once", "--config.file="+c.config, "--output="+c.output, "--once.timeout=20s", "--log.level=warn")
			if code != c.exit {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.exit, stdout, stderr)
			}
			golden.Check(t, fmt.Sprintf("testdata/once_%s.%s.golden", c.name, c.output), normalise(stdout), *update)
		})
	}
	// No answer by --once.timeout: the row says so, how far the
	// thresholds got, and the last reason.
	t.Run("timeout", func(t *testing.T) {
		stdout, stderr, code := runBinary(t, "--once", "--config.file="+slow, "--once.timeout=2s", "--log.level=warn")
		row := regexp.MustCompile(`(?m)^gone +127\.0\.0\.1:` + closedPort + ` +readiness +unknown +[1-3] of 50 failures +\d+(\.\d+)?(µs|ms) +` +
			`no answer in 2s \([1-3] of 50 failures\): dial tcp 127\.0\.0\.1:` + closedPort + `: connect: connection refused$`)
		if code != 1 || !row.MatchString(stdout) {
			t.Fatalf("exit %d, want 1 and a row that says it had no answer in 2s:\n%s%s", code, stdout, stderr)
		}
	})
	for _, c := range []struct{ name, config, want string }{
		{"no targets", empty, "has no targets"},
		{"bad config", bad, "bogus: unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, "--once", "--config.file="+c.config, "--log.level=warn")
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want 2), stderr %q (want %q)", code, stderr, c.want)
			}
		})
	}
}

// normaliseAnswers blots out what --once and check print that depends on
// timing: how many attempts ran (every probe runs until the slowest has
// its answer) and how long they took. The run that decided each answer
// stays: it is the threshold's.
func normaliseAnswers(s string) string {
	s = regexp.MustCompile(`"durationSeconds": [0-9.e-]+`).ReplaceAllString(s, `"durationSeconds": D`)
	s = regexp.MustCompile(`"attempts": [1-9][0-9]*`).ReplaceAllString(s, `"attempts": N`)
	return regexp.MustCompile(`(?m)( of \d+ (?:success|successes|failure|failures) +)\S+ *`).ReplaceAllString(s, "${1}D  ")
}
