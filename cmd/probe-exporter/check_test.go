package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-exporter/probe-exporter/internal/golden"
)

// TestCheck: `check` runs the probes of workload manifests (a List and a
// multi-document file, named ports, a sidecar, an exec probe reported as
// not runnable from here rather than passed) against --host, as --once
// answers them; table and JSON pinned by golden files; exit 0, 1 or 2.
func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		writeConfig(t, p, strings.ReplaceAll(text, "PORT", port))
		return p
	}
	passing := write("pass.yaml", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
        - name: proxy
          image: proxy:1
          restartPolicy: Always
          ports: [{name: admin, containerPort: PORT}]
          startupProbe: {httpGet: {path: /healthz, port: admin}, periodSeconds: 1}
      containers:
        - name: app
          image: web:1
          ports: [{name: http, containerPort: PORT}]
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, successThreshold: 1}
          livenessProbe: {tcpSocket: {port: PORT}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`)
	failing := write("fail.yaml", `
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: shop}
    spec:
      selector: {matchLabels: {app: db}}
      serviceName: db
      template:
        metadata: {labels: {app: db}}
        spec:
          containers:
            - name: db
              image: db:1
              ports: [{name: sql, containerPort: PORT}]
              readinessProbe: {httpGet: {path: /missing, port: sql}, periodSeconds: 1, failureThreshold: 2}
              livenessProbe: {exec: {command: [pg_isready]}}
              startupProbe: {tcpSocket: {port: nope}}
`)
	nothing := write("nothing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	broken := write("broken.yaml", "kind: Pod\nspec: [not, a, spec]\n")

	normalise := func(s string) string { return normaliseAnswers(strings.ReplaceAll(s, port, "PORT")) }
	for _, c := range []struct {
		name, file, output string
		exit               int
	}{
		{"pass", passing, "table", 0},
		{"fail", failing, "table", 1},
		{"fail", failing, "json", 1},
	} {
		t.Run(c.name+"_"+c.output, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, "check", "-f", c.file, "--host", "127.0.0.1", "--output="+c.output, "--once.timeout=20s")
			if code != c.exit {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.exit, stdout, stderr)
			}
			golden.Check(t, fmt.Sprintf("testdata/check_%s.%s.golden", c.name, c.output), normalise(stdout), *update)
		})
	}
	t.Run("a directory and stdin", func(t *testing.T) {
		sub := filepath.Join(dir, "manifests")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		writeConfig(t, filepath.Join(sub, "a.yaml"), strings.ReplaceAll(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "livenessProbe": {"tcpSocket": {"port": PORT}}}]}}`, "PORT", port))
		if stdout, stderr, code := runBinary(t, "check", "-f", sub, "--host", "127.0.0.1"); code != 0 {
			t.Errorf("a directory: exit %d\n%s%s", code, stdout, stderr)
		}
		cmd := exec.Command(binary, "check", "-f", "-", "--host", "127.0.0.1")
		cmd.Stdin = strings.NewReader(strings.ReplaceAll("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, readinessProbe: {tcpSocket: {port: PORT}}}]}\n", "PORT", port))
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "success") {
			t.Errorf("stdin: %v\n%s", err, out)
		}
	})
	for _, c := range []struct{ name, file, want string }{
		{"nothing to probe", nothing, "no container with a probe"},
		{"a broken manifest", broken, "document 1"},
		{"no such file", filepath.Join(dir, "missing.yaml"), "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, "check", "-f", c.file, "--host", "127.0.0.1")
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want 2), stderr %q (want %q)", code, stderr, c.want)
			}
		})
	}
}
