// Package dnstest runs real DNS servers (github.com/miekg/dns) on
// loopback for tests: records that change while they run, rcodes,
// servers that never answer, truncated UDP answers.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Zone is a DNS server's records. Keys are "name TYPE" ("db.shop. A").
type Zone struct {
	// Silent: never answer. Truncate: answer UDP queries truncated, so
	// that the client asks again over TCP.
	Silent, Truncate bool
	// NegativeTTL, when set, puts a SOA with that minimum in negative
	// answers (NXDOMAIN, NODATA), so that they may be cached (RFC 2308).
	NegativeTTL uint32
	// Delay holds every answer back this long.
	Delay time.Duration

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

// listenBoth listens on one port for UDP and TCP. With port 0 the UDP
// port the kernel picks may be taken for TCP: then another is tried.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	for tries := 0; ; tries++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" || tries == 20 {
			return nil, nil, err
		}
	}
}

// ServeOn runs z on addr (UDP and TCP) until t ends.
func ServeOn(t testing.TB, z *Zone, addr string) string {
	t.Helper()
	pc, l, err := listenBoth(addr)
	if err != nil {
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
		silent, trunc, negTTL, delay := z.Silent, z.Truncate, z.NegativeTTL, z.Delay
		rcode, failing := z.rcode[key]
		rrs := z.records[key]
		if rrs == nil && q.Qtype != mdns.TypeCNAME {
			// A CNAME answers for every type, with its target's records.
			if cname := z.records[q.Name+" CNAME"]; cname != nil {
				rrs = append([]string(nil), cname...)
				if c, err := mdns.NewRR(cname[0]); err == nil {
					rrs = append(rrs, z.records[c.(*mdns.CNAME).Target+" "+mdns.TypeToString[q.Qtype]]...)
				}
			}
		}
		exists := false // the name has records of some type: NODATA, not NXDOMAIN
		for k := range z.records {
			if strings.HasPrefix(k, q.Name+" ") {
				exists = true
				break
			}
		}
		z.mu.Unlock()
		if silent {
			return
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		switch {
		case failing:
			m.Rcode = rcode
		case rrs == nil:
			if !exists {
				m.Rcode = mdns.RcodeNameError
			}
			if negTTL > 0 {
				soa, _ := mdns.NewRR(fmt.Sprintf("test. %d IN SOA ns.test. admin.test. 1 60 60 60 %d", negTTL, negTTL))
				m.Ns = append(m.Ns, soa)
			}
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
