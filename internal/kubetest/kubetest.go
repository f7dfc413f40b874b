// Package kubetest runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver as processes on loopback, with RBAC on, an admin user and
// an unprivileged user for the exporter. The binaries come from
// hack/test-binaries.sh (make test runs it and exports their paths); a
// test without them skips and says how to get them.
package kubetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Environment variables that name the binaries (hack/test-binaries.sh).
const (
	EnvAPIServer = "PROBE_EXPORTER_KUBE_APISERVER"
	EnvEtcd      = "PROBE_EXPORTER_ETCD"
)

// ExporterUser is the identity the exporter's token authenticates as: the
// ServiceAccount the example RBAC binds, so those manifests apply as they
// are.
const (
	ExporterUser      = "system:serviceaccount:monitoring:probe-exporter"
	ExporterNamespace = "monitoring"
	ExporterSA        = "probe-exporter"
)

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	owner  testing.TB // the test that started it: its processes end with it
	Dir    string
	URL    string
	Admin  *rest.Config
	Client kubernetes.Interface

	apiserverBin string
	apiserverArg []string
	apiserver    *process
	etcd         *process
	caFile       string
	adminToken   string
	exportToken  string
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Start brings up etcd and kube-apiserver and waits until the API server
// is ready. Everything stops when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	apiserver, etcd := os.Getenv(EnvAPIServer), os.Getenv(EnvEtcd)
	if apiserver == "" || etcd == "" {
		t.Skipf("no real control plane: %s and %s are not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first", EnvAPIServer, EnvEtcd)
	}
	dir := t.TempDir()
	c := &Cluster{owner: t, Dir: dir, apiserverBin: apiserver, adminToken: randomToken(), exportToken: randomToken()}
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	c.URL = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	c.etcd = run(t, t, dir, "etcd", etcd,
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls=http://127.0.0.1:"+strconv.Itoa(etcdPort),
		"--advertise-client-urls=http://127.0.0.1:"+strconv.Itoa(etcdPort),
		"--listen-peer-urls=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster=default=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--log-level=error")
	waitHTTP(t, c.etcd, &http.Client{}, "http://127.0.0.1:"+strconv.Itoa(etcdPort)+"/health", "")

	certs(t, dir)
	c.caFile = filepath.Join(dir, "ca.crt")
	saKey(t, dir)
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,%s,exporter,\"system:serviceaccounts,system:serviceaccounts:%s,system:authenticated\"\n",
		c.adminToken, c.exportToken, ExporterUser, ExporterNamespace)
	write(t, filepath.Join(dir, "tokens.csv"), tokens)
	c.apiserverArg = []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + filepath.Join(dir, "server.crt"), "--tls-private-key-file=" + filepath.Join(dir, "server.key"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		// Dual-stack, so that tests can create dual-stack Services.
		"--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112",
		// There is no controller-manager: nothing would create the default
		// ServiceAccount pods need, nor reconcile the kubernetes Service.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--cert-dir=" + filepath.Join(dir, "certs"),
	}
	c.StartAPIServer(t)

	c.Admin = &rest.Config{Host: c.URL, BearerToken: c.adminToken, TLSClientConfig: rest.TLSClientConfig{CAFile: c.caFile}, QPS: 100, Burst: 200}
	client, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	c.Client = client
	return c
}

// StartAPIServer (re)starts kube-apiserver on the same port and waits until
// it is ready.
func (c *Cluster) StartAPIServer(t testing.TB) {
	t.Helper()
	c.apiserver = run(t, c.owner, c.Dir, "kube-apiserver", c.apiserverBin, c.apiserverArg...)
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 2 * time.Second}
	waitHTTP(t, c.apiserver, client, c.URL+"/readyz", c.adminToken)
}

// StopAPIServer stops kube-apiserver; etcd and its data stay.
func (c *Cluster) StopAPIServer(t testing.TB) {
	t.Helper()
	c.apiserver.stop()
}

// Kubeconfig writes a kubeconfig for the admin or the exporter user
// ("admin" or "exporter") and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB, user string) string {
	t.Helper()
	token := c.adminToken
	if user == "exporter" {
		token = c.exportToken
	}
	path := filepath.Join(c.Dir, user+".kubeconfig")
	write(t, path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority: %q}
users:
- name: %s
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: %s}
current-context: test
`, c.URL, c.caFile, user, token, user))
	return path
}

// run starts a process; it is stopped when owner ends.
func run(t, owner testing.TB, dir, name, bin string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	owner.Cleanup(func() {
		p.stop()
		if owner.Failed() {
			owner.Logf("%s log (last lines):\n%s", name, tail(logPath, 30))
		}
	})
	return p
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func waitHTTP(t testing.TB, p *process, client *http.Client, url, token string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited:\n%s", filepath.Base(p.cmd.Path), tail(p.log, 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s (%v):\n%s", url, err, tail(p.log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// certs writes a CA and a serving certificate for 127.0.0.1, ::1 and
// localhost.
func certs(t testing.TB, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "probe-exporter test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write(t, filepath.Join(dir, "ca.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	write(t, filepath.Join(dir, "server.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, filepath.Join(dir, "server.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
}

// saKey writes the service-account signing key pair the API server needs.
func saKey(t testing.TB, dir string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write(t, filepath.Join(dir, "sa.key"), string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	write(t, filepath.Join(dir, "sa.pub"), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))
}
