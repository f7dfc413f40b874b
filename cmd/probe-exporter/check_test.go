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
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/internal/golden"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
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
	t.Run("a probe that names its own host", func(t *testing.T) {
		var conns atomic.Int32
		elsewhere := faults.ListenOn(t, "127.0.0.2:0", func(net.Conn) { conns.Add(1) })
		h, p, _ := net.SplitHostPort(elsewhere)
		own := write("own.yaml", "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, readinessProbe: {tcpSocket: {host: "+h+", port: "+p+"}, periodSeconds: 1}}]}\n")
		stdout, stderr, code := runBinary(t, "check", "-f", own, "--host", "127.0.0.1", "--once.timeout=5s")
		if code != 1 || !strings.Contains(stdout, "names its own host \"127.0.0.2\"") || !strings.Contains(stdout, "127.0.0.2") || conns.Load() != 0 {
			t.Errorf("exit %d, %d connections to the host it names\n%s%s", code, conns.Load(), stdout, stderr)
		}
		stdout, stderr, code = runBinary(t, "check", "-f", own, "--host", "127.0.0.1", "--allow-probe-host", "--once.timeout=5s")
		if code != 0 || conns.Load() == 0 {
			t.Errorf("--allow-probe-host: exit %d, %d connections\n%s%s", code, conns.Load(), stdout, stderr)
		}
	})
	t.Run("a port-forward", func(t *testing.T) {
		// What kubectl port-forward deploy/web 18080:8080 19090:metrics
		// makes: the containers' ports 8080 and 9090 on local ports.
		// The manifest's ports are not the ones served here: only a
		// forward reaches them.
		fwd := write("forward.yaml", `
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: i
      ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}, {name: admin, containerPort: 7070}]
      readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
      livenessProbe: {tcpSocket: {port: 9090}, periodSeconds: 1}
      startupProbe: {tcpSocket: {port: admin}, periodSeconds: 1}
`)
		other := write("other.yaml", "kind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: d, image: i, readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}}]}\n")
		stdout, stderr, code := runBinary(t, "check", "-f", fwd, "-f", other, "--host", "127.0.0.1",
			"--port-forward", port+":8080", "--port-forward", port+":metrics", "--once.timeout=10s")
		for _, want := range []string{
			"pod_p_c  127.0.0.1:" + port + "  readiness  success",
			"pod_p_c  127.0.0.1:" + port + "  liveness   success",
			"container port 7070 is not forwarded (--port-forward LOCAL:7070)",
			"pod_q_d  127.0.0.1:" + port + "  readiness  success", // the second -f
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("lacks %q", want)
			}
		}
		if code != 1 || t.Failed() {
			t.Fatalf("exit %d (want 1: the startup probe is not run)\n%s%s", code, stdout, stderr)
		}
	})
	for _, c := range []struct{ args, want string }{
		{"--host 127.0.0.1:18080", "--host 127.0.0.1 --port-forward 18080:<container port>"},
		{"--port-forward 18080:8080", "--port-forward needs --host"},
		{"--host 127.0.0.1 --port-forward :8080", "a random local port can't be probed"},
		{"--host 127.0.0.1 --port-forward 18080:8080 --port-forward 18081:8080", "container port 8080 is forwarded twice"},
		{"--host 127.0.0.1 --port-forward 18080:not_a_name", "neither a port number nor a port name"},
	} {
		t.Run(c.args, func(t *testing.T) {
			_, stderr, code := runBinary(t, append([]string{"check", "-f", passing}, strings.Fields(c.args)...)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want 2), stderr %q (want %q)", code, stderr, c.want)
			}
		})
	}
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

// TestCheckPods: without --host, `check` finds each workload's pods
// through a kubeconfig (the real API server, as the least-privileged
// ServiceAccount of examples/kubernetes/rbac.yaml) and runs the
// container's probes against each pod's IP: one row per pod, labelled
// with the pod and its node; a pod with no IP yet and a workload with no
// pods are reported with their reason, not passed.
func TestCheckPods(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	namespace(t, c.Client, "shop")
	webA, webB := &atomic.Bool{}, &atomic.Bool{} // whether each answers 200 (else 500)
	webA.Store(true)
	serveOn(t, "192.0.2.61:8080", webA)
	serveOn(t, "192.0.2.62:8080", webB)
	pod := func(name, app string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "web:1"}}},
		}
	}
	runningPod(t, c.Client, pod("web-a", "web"), "192.0.2.61", nil)
	runningPod(t, c.Client, pod("web-b", "web"), "192.0.2.62", nil)
	runningPod(t, c.Client, pod("db-0", "db"), "192.0.2.63", nil) // another workload's
	must[*corev1.Pod](t)(c.Client.CoreV1().Pods("shop").Create(bg, pod("web-c", "web"), metav1.CreateOptions{}))

	manifests := filepath.Join(t.TempDir(), "manifests.yaml")
	writeConfig(t, manifests, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: web:1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 1}
          livenessProbe: {exec: {command: [cat, /tmp/healthy]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec:
  selector: {matchLabels: {app: cache}}
  serviceName: cache
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
        - name: cache
          image: cache:1
          readinessProbe: {tcpSocket: {port: 6379}}
`)
	kubeconfig := c.Kubeconfig(t, "exporter")
	for _, output := range []string{"table", "json"} {
		t.Run(output, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, "check", "-f", manifests, "--kubeconfig", kubeconfig, "-n", "shop", "--output="+output, "--once.timeout=20s")
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			golden.Check(t, "testdata/check_pods."+output+".golden", normaliseAnswers(stdout), *update)
		})
	}
	t.Run("web-b recovers", func(t *testing.T) {
		webB.Store(true)
		// Still exit 1: web-c has no IP and cache has no pods.
		if stdout, stderr, code := runBinary(t, "check", "-f", manifests, "--kubeconfig", kubeconfig, "-n", "shop"); code != 1 || strings.Contains(stdout, "failure") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"--host and a kubeconfig", []string{"--host", "127.0.0.1", "--kubeconfig", kubeconfig}, "one or the other"},
		{"no kubeconfig", []string{"--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "no kubeconfig to find the pods with"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, append([]string{"check", "-f", manifests}, c.args...)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d (want 2), stderr %q (want %q)", code, stderr, c.want)
			}
		})
	}
}
