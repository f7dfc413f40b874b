package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/certtest"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestIngressDiscovery: the ingress role on the real API server, objects
// changing under a running exporter. A controller stand-in on the
// Ingress's load-balancer address (in the test's network namespace)
// routes by Host header and TLS server name, as a controller does: each
// (host, path) is probed as that virtual host through it, labelled with
// its Ingress, path and backend Service; a TLS block turns the host's
// targets to HTTPS on 443 (the old series go); deleting the Ingress
// removes its series.
func TestIngressDiscovery(t *testing.T) {
	kubetest.RequireNetns(t)
	const lb, vhost = "192.0.2.60", "shop.example.test"
	var misrouted atomic.Int64
	controller := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != vhost || (r.TLS != nil && r.TLS.ServerName != vhost) {
			misrouted.Add(1)
			w.WriteHeader(http.StatusMisdirectedRequest)
			return
		}
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	for _, port := range []string{"80", "443"} {
		l, err := net.Listen("tcp", net.JoinHostPort(lb, port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: controller}
		if port == "443" {
			chain := certtest.New(t, vhost, time.Now().Add(30*24*time.Hour))
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{chain.Cert}})
		}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { srv.Close() })
	}

	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	admin := c.Client
	namespace(t, admin, "shop")
	prefix := networkingv1.PathTypePrefix
	path := func(p, svc string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: &prefix, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 8080}}}}
	}
	in := must[*networkingv1.Ingress](t)(admin.NetworkingV1().Ingresses("shop").Create(bg, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: vhost, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{path("/ok", "web"), path("/broken", "api")}}}}}},
	}, metav1.CreateOptions{}))
	in.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: lb}}
	in = must[*networkingv1.Ingress](t)(admin.NetworkingV1().Ingresses("shop").UpdateStatus(bg, in, metav1.UpdateOptions{}))

	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(t, "exporter")}
	e := env.exporter(t, `
targets:
  - name: routes
    kubernetes: {role: ingress, namespaces: [shop]}
    readinessProbe: {httpGet: {}, periodSeconds: 1, failureThreshold: 1}
`)
	route := func(p, port string) map[string]string {
		return map[string]string{"target": "routes", "kind": "readiness", "namespace": "shop", "ingress": "shop", "path": p, "address": vhost + ":" + port}
	}
	state := func(mfs map[string]*dto.MetricFamily, labels map[string]string) float64 {
		v, ok := stateOf(mfs, labels)
		if !ok {
			return -2
		}
		return v
	}
	e.eventually(t, "the routes probed through the controller", func(mfs map[string]*dto.MetricFamily) bool {
		// A readiness probe starts at failure: /broken's reason says an
		// attempt was made and what it met.
		_, failed := value(mfs, "probe_failure_reason", map[string]string{"path": "/broken", "reason": "http_status"})
		return state(mfs, route("/ok", "80")) == 1 && failed
	}, nil)
	mfs := e.scrape(t)
	for p, svc := range map[string]string{"/ok": "web", "/broken": "api"} {
		labels := route(p, "80")
		labels["service"] = svc
		if _, ok := stateOf(mfs, labels); !ok {
			t.Errorf("%s: no series with its backend service=%q", p, svc)
		}
	}

	// TLS for the host: its routes move to HTTPS on 443.
	in.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{vhost}, SecretName: "shop-tls"}}
	must[*networkingv1.Ingress](t)(admin.NetworkingV1().Ingresses("shop").Update(bg, in, metav1.UpdateOptions{}))
	e.eventually(t, "the routes over HTTPS", func(mfs map[string]*dto.MetricFamily) bool {
		_, old := stateOf(mfs, route("/ok", "80"))
		_, facts := value(mfs, "probe_ssl_earliest_cert_expiry", route("/ok", "443"))
		return state(mfs, route("/ok", "443")) == 1 && state(mfs, route("/broken", "443")) == 0 && !old && facts
	}, nil)

	must[struct{}](t)(struct{}{}, admin.NetworkingV1().Ingresses("shop").Delete(bg, "shop", metav1.DeleteOptions{}))
	e.eventually(t, "the routes gone with their Ingress", func(mfs map[string]*dto.MetricFamily) bool {
		return len(matching(mfs, "probe_state", map[string]string{"target": "routes"})) == 0
	}, nil)
	if n := misrouted.Load(); n != 0 {
		t.Errorf("%d requests reached the controller with another Host or server name", n)
	}
}
