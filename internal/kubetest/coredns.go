package kubetest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// EnvCoreDNS names the CoreDNS binary (hack/test-binaries.sh builds it
// with the bind, ready, errors, log and kubernetes plugins).
const EnvCoreDNS = "PROBE_EXPORTER_COREDNS"

// CoreDNS starts a real CoreDNS whose kubernetes plugin serves the
// cluster's Services and EndpointSlices under cluster.local, as a
// cluster's DNS does, with records' TTLs of one second so that changes
// show quickly. It returns the server's address (127.0.0.1:port, UDP and
// TCP) once the plugin has synced with the API server. It stops when the
// test ends.
func (c *Cluster) CoreDNS(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvCoreDNS)
	if bin == "" {
		t.Skipf("no CoreDNS: %s is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first", EnvCoreDNS)
	}
	dir := t.TempDir()
	port, ready := freePort(t), freePort(t)
	corefile := filepath.Join(dir, "Corefile")
	write(t, corefile, fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    errors
    log
    kubernetes cluster.local {
        kubeconfig %s
        ttl 1
    }
}
`, port, ready, c.Kubeconfig(t, "admin")))
	p := run(t, t, dir, "coredns", bin, "-conf", corefile)
	// /ready answers 200 once the kubernetes plugin has listed what it
	// serves: before that it would answer SERVFAIL for every name.
	waitHTTP(t, p, &http.Client{}, "http://127.0.0.1:"+strconv.Itoa(ready)+"/ready", "")
	// /ready may answer before the DNS listener is up: wait for an answer.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	q := new(dns.Msg).SetQuestion("cluster.local.", dns.TypeSOA)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, err := dns.Exchange(q, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("CoreDNS does not answer on %s:\n%s", addr, tail(p.log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
