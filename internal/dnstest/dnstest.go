// Package dnstest runs real DNS servers (github.com/miekg/dns) on
// loopback for tests: records that change while they run, rcodes,
// servers that never answer, truncated UDP answers.
package dnstest

import (
	"net"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
)

// Zone is a DNS server's records. Keys are "name TYPE" ("db.shop. A").
type Zone struct {
	// Silent: never answer. Truncate: answer UDP queries truncated, so
	// that the client asks again over TCP.
	Silent, Truncate bool

	mu      sync.Mutex
	records map[string][]string
	rcode   map[string]int
	queries map[string]int
}

// NewZone returns an empty zone: every name is NXDOMAIN.
func NewZone() *Zone {
	return &Zone{records: map[string][]string{}, rcode: map[string]int{}, queries: map[string]int{}}
}

// Set answers key with rrs, in zone-file form ("db.shop. 30 IN A 192.0.2.7").
func (z *Zone) Set(key string, rrs ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.records[key] = rrs
	delete(z.rcode, key)
}

// Delete makes key NXDOMAIN.
func (z *Zone) Delete(key string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.records, key)
	delete(z.rcode, key)
}

// Fail answers key with rcode (SERVFAIL, REFUSED).
func (z *Zone) Fail(key string, rcode int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.rcode[key] = rcode
}

// Count is how many queries key had; "key udp" and "key tcp" by protocol.
func (z *Zone) Count(key string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.queries[key]
}

// Total is how many queries the zone had.
func (z *Zone) Total() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := 0
	for k, c := range z.queries {
		if len(k) > 4 && (k[len(k)-4:] == " udp" || k[len(k)-4:] == " tcp") {
			n += c
		}
	}
	return n
}

// Serve runs z on 127.0.0.1, UDP and TCP on one port, until t ends, and
// returns its address.
func Serve(t testing.TB, z *Zone) string {
	return ServeOn(t, z, "127.0.0.1:0")
}

// ServeOn runs z on addr (UDP and TCP) until t ends.
func ServeOn(t testing.TB, z *Zone, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		q := req.Question[0]
		key := q.Name + " " + mdns.TypeToString[q.Qtype]
		proto := "udp"
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			proto = "tcp"
		}
		z.mu.Lock()
		z.queries[key+" "+proto]++
		z.queries[key]++
		silent, trunc := z.Silent, z.Truncate
		rcode, failing := z.rcode[key]
		rrs := z.records[key]
		z.mu.Unlock()
		if silent {
			return
		}
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		switch {
		case failing:
			m.Rcode = rcode
		case rrs == nil:
			m.Rcode = mdns.RcodeNameError
		case trunc && proto == "udp":
			m.Truncated = true
		default:
			for _, s := range rrs {
				rr, err := mdns.NewRR(s)
				if err != nil {
					panic(err)
				}
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})
	udp := &mdns.Server{PacketConn: pc, Handler: handler}
	tcp := &mdns.Server{Listener: l, Handler: handler}
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	<-started
	<-started
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return pc.LocalAddr().String()
}
