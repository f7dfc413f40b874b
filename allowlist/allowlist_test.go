package allowlist

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var list = func() *List {
	l, errs := Parse([]string{"192.0.2.0/24", "2001:db8::/32", "*.example.internal", "db.example.internal:5432", "198.51.100.7", "127.0.0.2/32"})
	if len(errs) > 0 {
		panic(errs)
	}
	return l
}()

// TestHost: request hosts, and every spelling of a forbidden address.
func TestHost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host   string
		port   int
		byName bool
		refuse string // "" allowed
	}{
		{"192.0.2.10", 80, false, ""},
		{"198.51.100.7", 80, false, ""},
		{"198.51.100.8", 80, false, "198.51.100.8 is not in probeEndpoint.allowedTargets"},
		{"[2001:db8::1]", 443, false, ""},
		{"2001:db8::1", 443, false, ""},
		{"web.example.internal", 80, true, ""},
		{"WEB.Example.Internal.", 80, true, ""},
		{"a.b.example.internal", 80, false, "not in probeEndpoint.allowedTargets"}, // * is one label
		{"example.internal", 80, false, "not in probeEndpoint.allowedTargets"},
		{"db.example.internal", 5432, true, ""},
		{"db.example.internal", 22, true, ""}, // the glob allows any port of it
		{"evil.com", 80, false, "evil.com:80 is not in probeEndpoint.allowedTargets"},
		// Cloud metadata and link-local, in every spelling.
		{"169.254.169.254", 80, false, "in 169.254.0.0/16"},
		{"[::ffff:169.254.169.254]", 80, false, "in 169.254.0.0/16"},
		{"::ffff:a9fe:a9fe", 80, false, "in 169.254.0.0/16"},
		{"0xa9fea9fe", 80, false, "non-canonical form"},
		{"0xA9FEA9FE", 80, false, "non-canonical form"},
		{"2852039166", 80, false, "non-canonical form"},
		{"0251.0376.0251.0376", 80, false, "non-canonical form"},
		{"169.254.43518", 80, false, "non-canonical form"},
		{"0x7f.1", 80, false, "non-canonical form"},
		{"010.0.2.1", 80, false, "non-canonical form"}, // 8.0.2.1 to inet_aton
		{"fe80::1", 80, false, "in fe80::/10"},
		{"fe80::1%eth0", 80, false, "IPv6 zones"},
		{"fd00:ec2::254", 80, false, "in fd00:ec2::254/128"},
		{"100.100.100.200", 80, false, "in 100.100.100.200/32"},
		{"127.0.0.1", 9878, false, "in 127.0.0.0/8"},
		{"127.0.0.2", 80, false, ""}, // listed explicitly, inside 127/8
		{"0.0.0.0", 80, false, "in 0.0.0.0/8"},
		{"[::]", 80, false, "in ::/128"},
		{"224.0.0.1", 80, false, "in 224.0.0.0/4"},
	} {
		adm, err := list.Host(c.host, c.port)
		switch {
		case c.refuse == "" && err != nil:
			t.Errorf("%s:%d refused: %v", c.host, c.port, err)
		case c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse)):
			t.Errorf("%s:%d: %v, want a refusal saying %q", c.host, c.port, err, c.refuse)
		case err == nil && adm.ByName != c.byName:
			t.Errorf("%s:%d: by name %v", c.host, c.port, adm.ByName)
		}
		var r *Refusal
		if err != nil && !errors.As(err, &r) {
			t.Errorf("%s: not a Refusal: %T", c.host, err)
		}
	}
}

// TestAddr: what a dial may reach, after resolution (DNS rebinding) and
// on each redirect hop.
func TestAddr(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr   string
		byName bool
		ok     bool
	}{
		{"192.0.2.9:80", false, true},
		{"10.0.0.1:80", false, false},
		{"10.0.0.1:80", true, true}, // an allowed name may resolve anywhere ordinary
		{"169.254.169.254:80", true, false},
		{"[::ffff:169.254.169.254]:80", true, false},
		{"127.0.0.1:9878", true, false},
		{"[::1]:9878", true, false},
		{"[fe80::1]:80", true, false},
		{"[fd00:ec2::254]:80", true, false},
		{"127.0.0.2:80", true, true}, // listed explicitly
	} {
		err := list.Addr(netip.MustParseAddrPort(c.addr), Admission{ByName: c.byName})
		if (err == nil) != c.ok {
			t.Errorf("%s (by name %v): %v, want allowed %v", c.addr, c.byName, err, c.ok)
		}
	}
	// 0.0.0.0/0 does not unlock the special ranges; a prefix inside one does.
	all, _ := Parse([]string{"0.0.0.0/0", "::/0"})
	if err := all.Addr(netip.MustParseAddrPort("169.254.169.254:80"), Admission{}); err == nil {
		t.Error("0.0.0.0/0 allowed the metadata address")
	}
	if err := all.Addr(netip.MustParseAddrPort("10.1.2.3:80"), Admission{}); err != nil {
		t.Errorf("0.0.0.0/0: %v", err)
	}
	meta, _ := Parse([]string{"169.254.169.254/32"})
	if err := meta.Addr(netip.MustParseAddrPort("169.254.169.254:80"), Admission{}); err != nil {
		t.Errorf("an explicit entry: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	_, errs := Parse([]string{"", "192.0.2.0/33", "web.example:http", "192.0.2.1:80", "0x7f000001", "bad name!", "ok.example:70000"})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`[0]: "": empty entry`,
		`[1]: "192.0.2.0/33": not a valid CIDR`,
		`[2]: "web.example:http": not a CIDR, an IP address, or a host name or glob with an optional :port (1-65535)`,
		`[3]: "192.0.2.1:80": an IP address with a port: list the address (or a CIDR) alone`,
		`[4]: "0x7f000001": reads as an IPv4 address in a non-canonical form: write it as a.b.c.d`,
		`[5]: "bad name!": not a valid host name or glob`,
		`[6]: "ok.example:70000": not a CIDR, an IP address, or a host name or glob with an optional :port (1-65535)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWhatIsDialed: the second round of holes: a port the admitting entry
// does not name (a same-host redirect), IPv6 forms that carry a forbidden
// IPv4 address, and names that only fold into an allowed one.
func TestWhatIsDialed(t *testing.T) {
	t.Parallel()
	l, errs := Parse([]string{"web.test:8080", "*.example.internal", "192.0.2.0/24", "kube.test"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	adm, err := l.Host("web.test", 8080)
	if err != nil || adm != (Admission{ByName: true, Port: 8080}) {
		t.Fatalf("web.test:8080: %+v %v", adm, err)
	}
	for _, c := range []struct {
		addr string
		adm  Admission
		ok   bool
	}{
		{"198.51.100.1:8080", adm, true},
		{"198.51.100.1:6379", adm, false}, // a redirect to another port of the name
		{"198.51.100.1:6379", Admission{ByName: true}, true},
		// NAT64 (well-known prefix) and IPv4-compatible: the IPv4 inside.
		{"[64:ff9b::a9fe:a9fe]:80", Admission{ByName: true}, false},
		{"[64:ff9b::7f00:1]:80", Admission{ByName: true}, false},
		{"[64:ff9b::c000:20a]:80", Admission{}, true}, // 192.0.2.10, listed
		{"[64:ff9b::c633:6401]:80", Admission{}, false},
		{"[::169.254.169.254]:80", Admission{ByName: true}, false},
		{"[::a9fe:a9fe]:80", Admission{ByName: true}, false},
		// Local-use NAT64, 6to4 and Teredo: refused unless listed.
		{"[64:ff9b:1::a9fe:a9fe]:80", Admission{ByName: true}, false},
		{"[2002:a9fe:a9fe::1]:80", Admission{ByName: true}, false},
		{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", Admission{ByName: true}, false},
		{"[2001:db8::1]:80", Admission{ByName: true}, true}, // not Teredo
	} {
		if err := l.Addr(netip.MustParseAddrPort(c.addr), c.adm); (err == nil) != c.ok {
			t.Errorf("%s (%+v): %v, want allowed %v", c.addr, c.adm, err, c.ok)
		}
	}
	for _, h := range []string{"\u212aube.test", "KUBE.TEST\u0307", "web.test\u3002"} {
		if _, err := l.Host(h, 80); err == nil || !strings.Contains(err.Error(), "not an ASCII host name") {
			t.Errorf("%q: %v", h, err)
		}
	}
	if _, errs := Parse([]string{"\u212aube.test"}); len(errs) != 1 {
		t.Error("a non-ASCII entry was accepted")
	}
}
