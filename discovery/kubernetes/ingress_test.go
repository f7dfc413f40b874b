package kubernetes

import (
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIngress: one target per (rule host, path), labelled as Prometheus'
// ingress role labels it (its ingress.go and ingress_test.go: scheme from
// TLS hosts with "*." patterns, "/" for a rule without paths or an empty
// path, __address__ the host alone), requested as that host with that
// scheme and path through the controller's address; what can't be sent
// (a wildcard host, nowhere to connect) is skipped with its reason.
func TestIngress(t *testing.T) {
	pathType := networkingv1.PathTypePrefix
	backend := func(svc string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	}
	in := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns", Labels: map[string]string{"app.kubernetes.io/name": "shop"},
			Annotations: map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"*.example.com"}}},
			Rules: []networkingv1.IngressRule{
				{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/cart", PathType: &pathType, Backend: backend("cart")},
					{Path: "", PathType: &pathType, Backend: backend("web")},
				}}}},
				{Host: "test.com"},                                  // no http: "/", cleartext
				{Host: "a.b.example.com"},                           // "*.example.com" matches one label only
				{Host: "*.example.com"},                             // a wildcard: nothing to send
				{IngressRuleValue: networkingv1.IngressRuleValue{}}, // every host: the controller's own
			},
		},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.80"}, {Hostname: "lb.example.net"}}}},
	}
	type want struct {
		addr, host, via, scheme, path, service string
		port                                   int32
	}
	var got []want
	g := newBuilder(Config{Role: RoleIngress, Address: "loadBalancer"}, &objects{}).ingress(in)
	for _, tg := range g.Targets {
		got = append(got, want{tg.Address, tg.Host, tg.Route.Via, tg.Route.Scheme, tg.Route.Path, tg.Labels["service"], tg.Port})
		for k, v := range map[string]string{
			"__meta_kubernetes_namespace": "ns", "__meta_kubernetes_ingress_name": "shop", "__meta_kubernetes_ingress_class_name": "nginx",
			"__meta_kubernetes_ingress_label_app_kubernetes_io_name": "shop", "__meta_kubernetes_ingress_labelpresent_app_kubernetes_io_name": "true",
			"__meta_kubernetes_ingress_annotation_nginx_ingress_kubernetes_io_rewrite_target": "/",
			"__meta_kubernetes_ingress_host": tg.Address, "__meta_kubernetes_ingress_path": tg.Route.Path,
		} {
			if tg.Meta[k] != v {
				t.Errorf("%s%s: %s=%q, want %q", tg.Address, tg.Route.Path, k, tg.Meta[k], v)
			}
		}
		if s := tg.Meta["__meta_kubernetes_ingress_scheme"]; s != map[string]string{"HTTP": "http", "HTTPS": "https"}[tg.Route.Scheme] {
			t.Errorf("%s: scheme meta %q, route %q", tg.Address, s, tg.Route.Scheme)
		}
		if tg.Labels["namespace"] != "ns" || tg.Labels["ingress"] != "shop" || tg.Labels["path"] != tg.Route.Path {
			t.Errorf("%s: labels %v", tg.Address, tg.Labels)
		}
	}
	wantTargets := []want{
		{"shop.example.com", "shop.example.com", "192.0.2.80", "HTTPS", "/cart", "cart", 443},
		{"shop.example.com", "shop.example.com", "192.0.2.80", "HTTPS", "/", "web", 443},
		{"test.com", "test.com", "192.0.2.80", "HTTP", "/", "", 80},
		{"a.b.example.com", "a.b.example.com", "192.0.2.80", "HTTP", "/", "", 80},
		{"", "192.0.2.80", "", "HTTP", "/", "", 80},
	}
	if !reflect.DeepEqual(got, wantTargets) {
		t.Errorf("targets\n%v\nwant\n%v", got, wantTargets)
	}
	if g.Skipped[SkipWildcardHost] != 1 {
		t.Errorf("skipped %v, want the wildcard host", g.Skipped)
	}

	// Other addresses: the controller Service's name; DNS (no rule
	// without a host then); no load balancer yet.
	svc := newBuilder(Config{Role: RoleIngress, Address: "service", ControllerService: "ingress-nginx/controller"}, &objects{}).ingress(in)
	if v := svc.Targets[0].Route.Via; v != "controller.ingress-nginx.svc.cluster.local" {
		t.Errorf("address service: via %q", v)
	}
	dns := newBuilder(Config{Role: RoleIngress, Address: "dns"}, &objects{}).ingress(in)
	if len(dns.Targets) != 4 || dns.Targets[0].Route.Via != "" || dns.Skipped[SkipNoHost] != 1 {
		t.Errorf("address dns: %d targets, via %q, skipped %v", len(dns.Targets), dns.Targets[0].Route.Via, dns.Skipped)
	}
	pending := in.DeepCopy()
	pending.Status = networkingv1.IngressStatus{}
	if g := newBuilder(Config{Role: RoleIngress, Address: "loadBalancer"}, &objects{}).ingress(pending); len(g.Targets) != 0 || g.Skipped[SkipNoIngress] != 6 {
		t.Errorf("no load balancer yet: %d targets, skipped %v", len(g.Targets), g.Skipped)
	}
	// Identities: a changed path or address is another target.
	ids := map[string]bool{}
	for _, tg := range g.Targets {
		ids[string(tg.ID)] = true
	}
	if len(ids) != len(g.Targets) {
		t.Errorf("%d identities for %d targets", len(ids), len(g.Targets))
	}
}
