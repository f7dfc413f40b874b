package prober

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/certtest"
	"github.com/probe-exporter/probe-exporter/probe"
)

// TestTLSFacts: every HTTPS attempt keeps what its handshake showed,
// worded as blackbox_exporter's prober/tls.go words it — the earliest
// NotAfter of the certificates sent (getEarliestCertExpiry), the leaf's
// SHA-256 of its DER in hex (getFingerprint), Subject.String() and
// Issuer.String() (getSubject, getIssuer), the DNS names joined by commas
// (getDNSNames), the serial's bytes as %x (getSerialNumber: "0a0b", not
// big.Int's "a0b") and "TLS 1.3" (getTLSVersion); attempts that saw the
// same share one value; a rotated certificate gives new facts, and the
// old ones leave the table once nothing holds them.
func TestTLSFacts(t *testing.T) {
	first := certtest.New(t, "web.shop.example", time.Now().Add(90*24*time.Hour).Truncate(time.Second))
	second := certtest.New(t, "web.shop.example", time.Now().Add(30*24*time.Hour).Truncate(time.Second))
	srv := certtest.Serve(t, first)

	o := httpProbe(t, srv.URL, "/", nil, 5*time.Second)
	if o.Result != Success || o.TLS == nil {
		t.Fatalf("%v %q, TLS facts %v", o.Result, o.Output, o.TLS)
	}
	sum := sha256.Sum256(first.Leaf.Raw)
	want := Leaf{
		FingerprintSHA256: hex.EncodeToString(sum[:]), Subject: first.Leaf.Subject.String(), Issuer: first.Leaf.Issuer.String(),
		SubjectAlternative: strings.Join(first.Leaf.DNSNames, ","), SerialNumber: fmt.Sprintf("%x", first.Leaf.SerialNumber.Bytes()),
	}
	got := *o.TLS.Leaf
	want.values = got.values
	if !reflect.DeepEqual(got, want) {
		t.Errorf("leaf %+v\nwant %+v", got, want)
	}
	if got.SerialNumber != "0a0b" || got.Subject != `CN=web.shop.example,O=Shop\, Inc.` || got.Issuer != `CN=Shop Intermediate CA,O=Shop\, Inc.` {
		t.Errorf("serial %q, subject %q, issuer %q", got.SerialNumber, got.Subject, got.Issuer)
	}
	if !o.TLS.Expiry.Equal(first.Intermediate.NotAfter) || o.TLS.Expiry.Equal(first.Leaf.NotAfter) {
		t.Errorf("expiry %v, want the intermediate's %v (the leaf's is %v)", o.TLS.Expiry, first.Intermediate.NotAfter, first.Leaf.NotAfter)
	}
	if v := o.TLS.VersionValues(); len(v) != 1 || v[0] != "TLS 1.3" {
		t.Errorf("version %v", v)
	}
	if again := httpProbe(t, srv.URL, "/", nil, 5*time.Second); again.TLS != o.TLS {
		t.Error("the same handshake facts were not shared")
	}

	srv.Rotate(second)
	rotated := httpProbe(t, srv.URL, "/", nil, 5*time.Second)
	if rotated.TLS == nil || rotated.TLS == o.TLS || rotated.TLS.Leaf.FingerprintSHA256 == want.FingerprintSHA256 ||
		!rotated.TLS.Expiry.Equal(second.Intermediate.NotAfter) {
		t.Errorf("after rotation: %+v", rotated.TLS)
	}
	leaves, facts := interned.size()
	if leaves < 2 || facts < 2 {
		t.Errorf("table holds %d leaves and %d facts, want both certificates'", leaves, facts)
	}
	// Nothing holds the facts any more: the table lets them go.
	o, rotated = Outcome{}, Outcome{}
	await.True(t, "the table emptied", func() bool {
		runtime.GC()
		l, f := interned.size()
		return l == 0 && f == 0
	})

	// A handshake that fails leaves no facts.
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	if o := httpProbe(t, strings.Replace(plain.URL, "http:", "https:", 1), "/", nil, 5*time.Second); o.TLS != nil || o.Result != Failure {
		t.Errorf("HTTPS to a cleartext server: %v, TLS %+v", o.Result, o.TLS)
	}
}

// TestVia: a target with Via set is requested as its own host — the URL's
// host, Host header and TLS server name — over a connection to Via, as an
// Ingress rule's host through its controller's address (curl --resolve);
// the name itself is never resolved.
func TestVia(t *testing.T) {
	var host, sni atomic.Value
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host.Store(r.Host) })
	plain := httptest.NewServer(handler)
	defer plain.Close()
	secure := httptest.NewUnstartedServer(handler)
	secure.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(hello.ServerName)
		return nil, nil
	}}
	secure.StartTLS()
	defer secure.Close()
	for _, c := range []struct {
		url, scheme string
	}{{plain.URL, "HTTP"}, {secure.URL, "HTTPS"}} {
		tgt, port := serverTarget(t, c.url)
		via := tgt.Host
		tgt.Host, tgt.Via = "shop.example.invalid", via // .invalid never resolves
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		o := newHTTP(&probe.HTTPGetAction{Path: "/", Port: port, Scheme: c.scheme}, testEnv).Probe(ctx, tgt)
		cancel()
		if o.Result != Success {
			t.Fatalf("%s via %s: %v %q", c.scheme, via, o.Result, o.Output)
		}
		if got := host.Load(); got != "shop.example.invalid:"+port.String() {
			t.Errorf("%s: Host %q", c.scheme, got)
		}
	}
	if got := sni.Load(); got != "shop.example.invalid" {
		t.Errorf("TLS server name %q, want the virtual host", got)
	}
}
