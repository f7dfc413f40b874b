package discovery

import (
	"strings"
	"testing"
)

func TestValidHost(t *testing.T) {
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"web-0.web.shop.svc.cluster.local", true},
		{"web-0.web.shop.svc.cluster.local.", true},
		{"_http._tcp.web", true}, // Go's resolver allows '_' (SRV owner names)
		{"db", true},
		{"192.0.2.1", true},
		{"2001:db8::1", true},
		{"fe80::1%eth0", false}, // a zone is interface text: refused
		{"fe80::1%eth0;id", false},
		{"`id>pwned`.evil.test", false},
		{"$(id).evil.test", false},
		{"a b.test", false},
		{"a;b.test", false},
		{"a/b.test", false},
		{"a'b.test", false},
		{"a\"b.test", false},
		{"a\nb.test", false},
		{"-a.test", false},
		{"a-.test", false},
		{"a..test", false},
		{".a.test", false},
		{"", false},
		{".", false},
		{"123", false}, // all digits: not a name, not an address
		{"1.2.3.256", false},
		{strings.Repeat("a", 63) + ".test", true},
		{strings.Repeat("a", 64) + ".test", false},
		{strings.Repeat("a.", 126) + "a", true}, // 253 characters
		{strings.Repeat("a.", 127), true},       // 254 with the trailing dot
		{strings.Repeat("a.", 127) + "a", false},
		{"kube\u212a.test", false}, // KELVIN SIGN: not ASCII
	} {
		if got := ValidHost(c.host); got != c.ok {
			t.Errorf("ValidHost(%q) = %v, want %v", c.host, got, c.ok)
		}
	}
}

func TestDropInvalidHosts(t *testing.T) {
	// A route's Via (an Ingress's load-balancer hostname) is judged too.
	g := Group{Targets: []Target{{Host: "ok.test"}, {Host: "`id`.evil.test"}, {Host: "192.0.2.1"}, {Host: "a b"},
		{Host: "shop.test", Route: &Route{Via: "lb/../x"}}, {Host: "shop.test", Route: &Route{Via: "lb.example.net"}}}}
	g.DropInvalidHosts()
	if len(g.Targets) != 3 || g.Targets[0].Host != "ok.test" || g.Targets[1].Host != "192.0.2.1" || g.Targets[2].Route.Via != "lb.example.net" ||
		g.Skipped[SkipInvalidHost] != 3 {
		t.Errorf("%+v", g)
	}
}
