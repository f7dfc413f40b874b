package prober

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"
)

// TLSFacts is what an HTTPS attempt's handshake showed, as
// blackbox_exporter's TLS gauges say it: the version, the earliest expiry
// among the certificates the server sent, and its leaf certificate. The
// kubelet verifies nothing (nor do we), so the only chain there is is the
// one the server sent: its expiry, blackbox's "last chain expiry", is that
// same earliest expiry. Values are shared and never written: every probe
// that saw the same handshake facts holds the same pointer, so a probe's
// state keeps one word for them, and an attempt that sees what the last
// one saw allocates nothing.
type TLSFacts struct {
	Version uint16
	// Expiry is the earliest NotAfter among the certificates sent.
	Expiry time.Time
	Leaf   *Leaf
}

// VersionValues is probe_tls_version_info's one label value: blackbox's
// names ("TLS 1.2"), "unknown" for any other. Read only.
func (f *TLSFacts) VersionValues() []string {
	if v, ok := versionValues[f.Version]; ok {
		return v
	}
	return unknownVersion
}

var (
	versionValues = func() map[uint16][]string {
		m := map[uint16][]string{}
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
			m[v] = []string{tls.VersionName(v)}
		}
		return m
	}()
	unknownVersion = []string{"unknown"}
	// VersionLabels are probe_tls_version_info's label names.
	VersionLabels = []string{LabelVersion}
)

// Leaf is the leaf certificate's identity: probe_ssl_last_chain_info's
// labels, worded as blackbox_exporter words them.
type Leaf struct {
	// FingerprintSHA256 is the hex SHA-256 of the certificate's DER.
	FingerprintSHA256 string
	// Subject and Issuer are the names as Go prints them (RFC 2253).
	Subject, Issuer string
	// SubjectAlternative is the DNS names, comma-separated.
	SubjectAlternative string
	// SerialNumber is the serial's bytes in lower-case hex, leading
	// zeros kept.
	SerialNumber string

	values []string // in LeafLabels' order
}

// Label names of probe_ssl_last_chain_info, sorted, and
// probe_tls_version_info's.
const (
	LabelFingerprint  = "fingerprint_sha256"
	LabelIssuer       = "issuer"
	LabelSerialNumber = "serialnumber"
	LabelSubject      = "subject"
	LabelSubjectAlt   = "subjectalternative"
	LabelVersion      = "version"
)

// LeafLabels are Leaf's label names in sorted order, lined up with
// Values.
var LeafLabels = []string{LabelFingerprint, LabelIssuer, LabelSerialNumber, LabelSubject, LabelSubjectAlt}

// Values are l's label values, in LeafLabels' order. Read only.
func (l *Leaf) Values() []string { return l.values }

func newLeaf(c *x509.Certificate) *Leaf {
	sum := sha256.Sum256(c.Raw)
	l := &Leaf{
		FingerprintSHA256:  hex.EncodeToString(sum[:]),
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		SubjectAlternative: strings.Join(c.DNSNames, ","),
	}
	if c.SerialNumber != nil {
		l.SerialNumber = fmt.Sprintf("%x", c.SerialNumber.Bytes())
	}
	l.values = []string{l.FingerprintSHA256, l.Issuer, l.SerialNumber, l.Subject, l.SubjectAlternative}
	return l
}

// TLSFactsFrom is cs's facts, shared with every attempt that saw the
// same; nil without a certificate.
func TLSFactsFrom(cs *tls.ConnectionState) *TLSFacts {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil
	}
	var expiry time.Time
	for _, c := range cs.PeerCertificates {
		if !c.NotAfter.IsZero() && (expiry.IsZero() || c.NotAfter.Before(expiry)) {
			expiry = c.NotAfter
		}
	}
	return interned.intern(cs.PeerCertificates[0], cs.Version, expiry)
}

// internTable shares Leafs by their certificate's DER and TLSFacts by
// what they hold, weakly: an entry goes once no probe's state holds it
// (a rotated certificate's facts leave with the last probe that saw it),
// so the table is bounded by what the probes hold, without a sweep.
type internTable struct {
	mu      sync.Mutex
	leaves  map[string]weak.Pointer[Leaf]
	byFacts map[tlsKey]weak.Pointer[TLSFacts]
}

type tlsKey struct {
	leaf    *Leaf
	version uint16
	expiry  int64
}

var interned = &internTable{leaves: map[string]weak.Pointer[Leaf]{}, byFacts: map[tlsKey]weak.Pointer[TLSFacts]{}}

func (t *internTable) intern(c *x509.Certificate, version uint16, expiry time.Time) *TLSFacts {
	t.mu.Lock()
	defer t.mu.Unlock()
	leaf := t.leaves[string(c.Raw)].Value() // no copy: a lookup by string(bytes)
	if leaf == nil {
		leaf = newLeaf(c)
		der := string(c.Raw)
		wp := weak.Make(leaf)
		t.leaves[der] = wp
		runtime.AddCleanup(leaf, t.dropLeaf, leafKey{der, wp})
	}
	k := tlsKey{leaf, version, expiry.UnixNano()}
	f := t.byFacts[k].Value()
	if f == nil {
		f = &TLSFacts{Version: version, Expiry: expiry, Leaf: leaf}
		wp := weak.Make(f)
		t.byFacts[k] = wp
		runtime.AddCleanup(f, t.dropFacts, factsEntry{k, wp})
	}
	return f
}

type leafKey struct {
	der string
	wp  weak.Pointer[Leaf]
}

type factsEntry struct {
	k  tlsKey
	wp weak.Pointer[TLSFacts]
}

// dropLeaf and dropFacts remove an entry whose value was collected,
// unless a new one took its key meanwhile.
func (t *internTable) dropLeaf(k leafKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaves[k.der] == k.wp {
		delete(t.leaves, k.der)
	}
}

func (t *internTable) dropFacts(e factsEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byFacts[e.k] == e.wp {
		delete(t.byFacts, e.k)
	}
}

// size is how many leaves and facts the table holds (tests).
func (t *internTable) size() (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.leaves), len(t.byFacts)
}

// The TLS gauges, by blackbox_exporter's names, and what they say: /probe
// answers them for its attempt, /metrics for each HTTPS probe's last
// handshake.
var (
	EarliestExpiryGauge = Gauge{"probe_ssl_earliest_cert_expiry", "Earliest expiry of the certificates the server sent, in Unix seconds."}
	ChainExpiryGauge    = Gauge{"probe_ssl_last_chain_expiry_timestamp_seconds", "Earliest expiry in the chain the server sent, in Unix seconds (nothing is verified, as in the kubelet: that chain is the only one, so this is probe_ssl_earliest_cert_expiry)."}
	ChainInfoGauge      = Gauge{"probe_ssl_last_chain_info", "The leaf certificate the server sent: its SHA-256 fingerprint, subject, issuer, DNS names and serial number; always 1."}
	TLSVersionGauge     = Gauge{"probe_tls_version_info", "The TLS version the connection used; always 1."}
)

// Gauge is a gauge's name and help.
type Gauge struct{ Name, Help string }

// Facts are f as /probe answers them.
func (f *TLSFacts) Facts() []Fact {
	expiry := float64(f.Expiry.Unix())
	return []Fact{
		{Name: EarliestExpiryGauge.Name, Help: EarliestExpiryGauge.Help, Value: expiry},
		{Name: ChainExpiryGauge.Name, Help: ChainExpiryGauge.Help, Value: expiry},
		{Name: ChainInfoGauge.Name, Help: ChainInfoGauge.Help, Labels: LeafLabels, Values: f.Leaf.Values(), Value: 1},
		{Name: TLSVersionGauge.Name, Help: TLSVersionGauge.Help, Labels: VersionLabels, Values: f.VersionValues(), Value: 1},
	}
}
