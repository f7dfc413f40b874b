// Package certtest makes certificate chains for tests: a leaf signed by
// an intermediate, as servers send them.
package certtest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// Chain is a leaf and the intermediate that signed it, and the two as a
// server's certificate.
type Chain struct {
	Leaf, Intermediate *x509.Certificate
	Cert               tls.Certificate
}

// New makes a chain for cn whose intermediate expires a day before its
// leaf (so the earliest expiry is not the leaf's), with serial 0x0a0b
// (its hex has a leading zero) and subjects that need RFC 2253 escaping
// (O=Shop\, Inc.).
func New(t testing.TB, cn string, leafExpiry time.Time) Chain {
	t.Helper()
	caPub, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Shop Intermediate CA", Organization: []string{"Shop, Inc."}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: leafExpiry.Add(-24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(0x0a0b), Subject: pkix.Name{CommonName: cn, Organization: []string{"Shop, Inc."}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: leafExpiry, DNSNames: []string{cn, "www." + cn}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, err = x509.ParseCertificate(leafDER); err != nil {
		t.Fatal(err)
	}
	return Chain{Leaf: leaf, Intermediate: ca, Cert: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}}
}

// Server is an HTTPS test server whose certificate can be swapped (a
// rotation), answering 200 to everything.
type Server struct {
	*httptest.Server
	serving atomic.Pointer[tls.Certificate]
}

// Serve starts a Server sending c.
func Serve(t testing.TB, c Chain) *Server {
	t.Helper()
	s := &Server{}
	s.serving.Store(&c.Cert)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.serving.Load(), nil }}
	s.StartTLS()
	s.TLS.Certificates = nil // httptest's own: without them GetCertificate serves (no SNI to an IP)
	t.Cleanup(s.Close)
	return s
}

// Rotate makes the server send c from the next handshake on.
func (s *Server) Rotate(c Chain) { s.serving.Store(&c.Cert) }
