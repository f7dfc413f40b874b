package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// selfReady waits for the embedded default's self probes to pass: the
// startup gate opens and readiness and liveness succeed.
func selfReady(t *testing.T, e *exporter) map[string]*dto.MetricFamily {
	t.Helper()
	var last map[string]*dto.MetricFamily
	e.eventually(t, "the self probes to pass", func(mfs map[string]*dto.MetricFamily) bool {
		last = mfs
		for _, kind := range []string{"startup", "readiness", "liveness"} {
			if v, ok := value(mfs, "probe_state", map[string]string{"target": "self", "kind": kind}); !ok || v != 1 {
				return false
			}
		}
		return true
	}, nil)
	return last
}

// TestSelfProbesFollowListenAddress: on [::1] the embedded default probes
// [::1], not 127.0.0.1 (where nothing listens).
func TestSelfProbesFollowListenAddress(t *testing.T) {
	e := start(t, "--web.listen-address=[::1]:0")
	mfs := selfReady(t, e)
	_, port := hostPort(t, strings.Replace(e.url, "[::1]", "h", 1))
	if _, ok := value(mfs, "probe_state", map[string]string{"target": "self", "kind": "startup", "address": net.JoinHostPort("::1", port)}); !ok {
		t.Errorf("self probes do not go to [::1]:%s", port)
	}
}

// TestSelfProbesOverTLS: with a TLS --web.config.file the self probes
// speak HTTPS, pass, and nothing warns.
func TestSelfProbesOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	webCfg := filepath.Join(dir, "web.yml")
	writeConfig(t, webCfg, "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	e := start(t, "--web.config.file="+webCfg)
	selfReady(t, e)
	if strings.Contains(e.log(), "level=WARN") {
		t.Errorf("warnings with TLS on:\n%s", e.log())
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "probe-exporter test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestConfigCheckReports: --config.check counts what a file holds, warns
// about one that probes nothing, and reports what would fail at start.
func TestConfigCheckReports(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	writeConfig(t, empty, "targets: []\n")
	out, err := exec.Command(binary, "--config.check", "--config.file="+empty).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 target entries") || !strings.Contains(string(out), "WARNING") {
		t.Errorf("empty config: %v\n%s", err, out)
	}
	mesh := filepath.Join(dir, "mesh.yaml")
	writeConfig(t, mesh, "targets:\n  - name: m\n    kubernetes: {role: pod, scope: mesh}\n    readinessProbe: {tcpSocket: {port: 80}}\n")
	cmd := exec.Command(binary, "--config.check", "--config.file="+mesh)
	cmd.Env = append(os.Environ(), "NODE_NAME=")
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "needs the node name") {
		t.Errorf("scope mesh without a node name: %v\n%s", err, out)
	}
	cmd = exec.Command(binary, "--config.check", "--config.file="+mesh, "--node-name=n1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("scope mesh with a node name: %v\n%s", err, out)
	}

	// Brace ranges: counted, reported, and refused past the bound (a
	// 3 KB file of them made a million targets, and was "valid").
	var names []string
	for i := 0; i < 100; i++ {
		names = append(names, fmt.Sprintf("%q", fmt.Sprintf("h%d-{0..9999}.test", i)))
	}
	braces := filepath.Join(dir, "braces.yaml")
	writeConfig(t, braces, "targets:\n  - name: b\n    dns: {type: A, port: 80, names: ["+strings.Join(names, ", ")+"]}\n    readinessProbe: {tcpSocket: {}}\n")
	out, err = exec.Command(binary, "--config.check", "--config.file="+braces).CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "expand to 1000000 targets, more than 100000") {
		t.Errorf("a million targets from brace ranges: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "--config.check", "--config.file="+braces, "--config.max-expanded-targets=1000000").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "name patterns expand to 1000000 targets, at most 1000000") {
		t.Errorf("the bound raised: %v\n%s", err, out)
	}
}

// TestStartupLine: the exporter says what it loaded, and warns when that
// is nothing.
func TestStartupLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "empty.yaml")
	writeConfig(t, cfg, "targets: []\n")
	e := start(t, "--config.file="+cfg)
	e.waitLog(t, `msg="configuration loaded"`)
	e.waitLog(t, "nothing will be probed")
}

// TestTransitionsLogged: a state change is one info line, with the
// kubelet-worded reason, without debug logging.
func TestTransitionsLogged(t *testing.T) {
	e := start(t, "--log.level=info")
	e.waitLog(t, `level=INFO`)
	e.waitLog(t, `msg="probe state changed" target=demo_closed_port kind=liveness address=127.0.0.1:1 from=success to=failure reason="dial tcp 127.0.0.1:1: connect: connection refused"`)
	if strings.Contains(e.log(), "level=DEBUG") {
		t.Error("debug lines at --log.level=info")
	}
}

// TestBuildStampsVersion: hack/build.sh, which make build and the
// Dockerfile run with no build arguments, stamps the checkout's revision.
func TestBuildStampsVersion(t *testing.T) {
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	out := filepath.Join(t.TempDir(), "probe-exporter")
	build := exec.Command("hack/build.sh", out)
	build.Dir = "../.."
	build.Env = append(os.Environ(), "VERSION=", "REVISION=")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("hack/build.sh: %v\n%s", err, b)
	}
	v, err := exec.Command(out, "--version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(v), "revision: "+strings.TrimSpace(string(rev))) || strings.Contains(string(v), "version dev") {
		t.Errorf("--version does not carry the checkout's version:\n%s", v)
	}
}
