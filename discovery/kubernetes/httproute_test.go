package kubernetes

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestHTTPRoute: one target per (listener, hostname, Exact or PathPrefix
// path) of a route's parent Gateway, requested as that hostname with the
// listener's scheme and port through the Gateway's first address; the
// same request from two matches is one target; what can't be requested
// (a wildcard hostname, a regex path, a Gateway not found or without an
// address yet) is skipped with its reason.
func TestHTTPRoute(t *testing.T) {
	exact, prefix, regex := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchRegularExpression
	match := func(kind gatewayv1.PathMatchType, v string) gatewayv1.HTTPRouteMatch {
		return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: &kind, Value: &v}}
	}
	backend := []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web"}}}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "infra"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "envoy", Listeners: []gatewayv1.Listener{
			{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
			{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType},
			{Name: "tls", Port: 8443, Protocol: gatewayv1.TLSProtocolType},
		}},
		Status: gatewayv1.GatewayStatus{Addresses: []gatewayv1.GatewayStatusAddress{{Value: "192.0.2.90"}, {Value: "192.0.2.91"}}}}
	rt := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop", Labels: map[string]string{"team": "web"}},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
				{Name: "edge", Namespace: ptr(gatewayv1.Namespace("infra")), SectionName: ptr(gatewayv1.SectionName("https"))},
				{Name: "missing"},
			}},
			Hostnames: []gatewayv1.Hostname{"shop.example.com", "*.example.com"},
			Rules: []gatewayv1.HTTPRouteRule{
				{Matches: []gatewayv1.HTTPRouteMatch{match(exact, "/cart"), match(prefix, "/cart"), match(regex, "/item/[0-9]+")}, BackendRefs: backend},
				{}, // no matches: the prefix "/"
			},
		}}
	look := &objects{gateways: []*gatewayv1.Gateway{gw}}
	g := newBuilder(Config{Role: RoleHTTPRoute}, look).httpRoute(rt)
	type want struct{ addr, host, via, scheme, path string }
	var got []want
	for _, tg := range g.Targets {
		got = append(got, want{tg.Address + ":" + itoa(tg.Port), tg.Host, tg.Route.Via, tg.Route.Scheme, tg.Route.Path})
		for k, v := range map[string]string{
			"__meta_kubernetes_namespace": "shop", "__meta_kubernetes_httproute_name": "shop", "__meta_kubernetes_httproute_label_team": "web",
			"__meta_kubernetes_httproute_hostname": "shop.example.com", "__meta_kubernetes_httproute_scheme": "https",
			"__meta_kubernetes_gateway_name": "edge", "__meta_kubernetes_gateway_namespace": "infra", "__meta_kubernetes_gateway_class_name": "envoy",
			"__meta_kubernetes_gateway_listener_name": "https", "__meta_kubernetes_gateway_listener_protocol": "HTTPS",
			"__meta_kubernetes_gateway_listener_port": "443", "__meta_kubernetes_gateway_address": "192.0.2.90",
		} {
			if tg.Meta[k] != v {
				t.Errorf("%s: %s=%q, want %q", tg.Route.Path, k, tg.Meta[k], v)
			}
		}
		if tg.Labels["httproute"] != "shop" || tg.Labels["gateway"] != "edge" || tg.Labels["path"] != tg.Route.Path {
			t.Errorf("labels %v", tg.Labels)
		}
	}
	wantTargets := []want{
		{"shop.example.com:443", "shop.example.com", "192.0.2.90", "HTTPS", "/cart"},
		{"shop.example.com:443", "shop.example.com", "192.0.2.90", "HTTPS", "/"},
	}
	if !reflect.DeepEqual(got, wantTargets) {
		t.Errorf("targets\n%v\nwant\n%v", got, wantTargets)
	}
	if s := g.Targets[0].Labels["service"]; s != "web" {
		t.Errorf("backend service %q", s)
	}
	for reason, n := range map[string]int{SkipWildcardHost: 1, SkipRegexPath: 1, SkipNoGateway: 1} {
		if g.Skipped[reason] != n {
			t.Errorf("skipped %v, want %s %d", g.Skipped, reason, n)
		}
	}
	// Without a section, every HTTP and HTTPS listener; a Gateway with no
	// address yet has nothing to go through.
	rt.Spec.ParentRefs = rt.Spec.ParentRefs[:1]
	rt.Spec.ParentRefs[0].SectionName = nil
	if g := newBuilder(Config{Role: RoleHTTPRoute}, look).httpRoute(rt); len(g.Targets) != 4 {
		t.Errorf("all listeners: %d targets, want 4 (80 and 443, two paths each)", len(g.Targets))
	}
	gw.Status.Addresses = nil
	if g := newBuilder(Config{Role: RoleHTTPRoute}, look).httpRoute(rt); len(g.Targets) != 0 || g.Skipped[SkipNoGatewayAddress] != 1 {
		t.Errorf("no address: %+v", g)
	}
}

// TestHTTPRouteListenerHostnames: a route is requested on a listener only
// as the hostnames that listener accepts (exact, or a "*." suffix of any
// depth); a backend in another namespace leaves the service label off.
func TestHTTPRouteListenerHostnames(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "shop"},
		Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{
			{Name: "shop", Port: 80, Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr(gatewayv1.Hostname("shop.example.com"))},
			{Name: "wild", Port: 8080, Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr(gatewayv1.Hostname("*.example.com"))},
			{Name: "any", Port: 8081, Protocol: gatewayv1.HTTPProtocolType},
		}},
		Status: gatewayv1.GatewayStatus{Addresses: []gatewayv1.GatewayStatusAddress{{Value: "192.0.2.90"}}}}
	elsewhere := gatewayv1.Namespace("data")
	rt := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge"}}},
			Hostnames:       []gatewayv1.Hostname{"shop.example.com", "a.b.example.com", "example.com", "other.test"},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "db", Namespace: &elsewhere}}}}}},
		}}
	g := newBuilder(Config{Role: RoleHTTPRoute}, &objects{gateways: []*gatewayv1.Gateway{gw}}).httpRoute(rt)
	var got []string
	for _, tg := range g.Targets {
		got = append(got, tg.Address+":"+itoa(tg.Port))
		if s, ok := tg.Labels["service"]; ok {
			t.Errorf("%s: service %q, a backend in another namespace", tg.Address, s)
		}
	}
	want := []string{
		"shop.example.com:80",
		"shop.example.com:8080", "a.b.example.com:8080",
		"shop.example.com:8081", "a.b.example.com:8081", "example.com:8081", "other.test:8081",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
}
