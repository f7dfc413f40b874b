package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestHTTPRouteDiscovery: the httproute role on the real API server with
// the Gateway API's standard CRDs installed, objects changing under a
// running exporter. A gateway stand-in on the Gateway's status address
// routes by Host header: each (hostname, path) of the route is probed as
// that host through it, labelled with its route, Gateway, path and
// backend Service; a new rule adds its target, a changed Gateway address
// moves them, deleting the route removes them. Before the CRDs exist the
// source says so in its health and the exporter keeps running.
func TestHTTPRouteDiscovery(t *testing.T) {
	kubetest.RequireNetns(t)
	crds := os.Getenv("PROBE_EXPORTER_GATEWAY_CRDS")
	if crds == "" {
		t.Skip("no Gateway API CRDs: PROBE_EXPORTER_GATEWAY_CRDS is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	const vhost = "shop.example.test"
	var misrouted atomic.Int64
	hits := map[string]*atomic.Int64{}
	for _, addr := range []string{"192.0.2.61:8080", "192.0.2.62:8080"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		hit := &atomic.Int64{}
		hits[addr] = hit
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit.Add(1)
			if r.Host != vhost+":8080" {
				misrouted.Add(1)
				w.WriteHeader(http.StatusMisdirectedRequest)
				return
			}
			if r.URL.Path == "/broken" {
				w.WriteHeader(http.StatusBadGateway)
			}
		})}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { srv.Close() })
	}

	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml")
	namespace(t, c.Client, "shop")
	namespace(t, c.Client, "infra")
	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(t, "exporter")}
	e := env.exporter(t, `
targets:
  - name: routes
    kubernetes: {role: httproute, namespaces: [shop]}
    readinessProbe: {httpGet: {}, periodSeconds: 1, failureThreshold: 1}
`)
	// No CRDs yet: not synced, an error counted as not installed, alive.
	e.eventually(t, "the missing CRDs said", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_kubernetes_discovery_errors_total", map[string]string{"resource": "httproutes", "reason": "not_installed"})
		synced, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "routes"})
		return v > 0 && synced == 0
	}, nil)

	c.Create(t, filepath.Join(crds, "gateway.networking.k8s.io_gateways.yaml"))
	c.Create(t, filepath.Join(crds, "gateway.networking.k8s.io_httproutes.yaml"))
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	gateways := dyn.Resource(schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: "gateways"}).Namespace("infra")
	routes := dyn.Resource(schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: "httproutes"}).Namespace("shop")
	gw := &gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "infra"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "stand-in", Listeners: []gatewayv1.Listener{
			{Name: "http", Port: 8080, Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr(gatewayv1.NamespacesFromAll)}}}}},
	}
	created := must[*unstructured.Unstructured](t)(gateways.Create(bg, toUnstructured(t, gw), metav1.CreateOptions{}))
	setGatewayAddress := func(u *unstructured.Unstructured, ip string) *unstructured.Unstructured {
		t.Helper()
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "IPAddress", "value": ip}}, "status", "addresses")
		return must[*unstructured.Unstructured](t)(gateways.UpdateStatus(bg, u, metav1.UpdateOptions{}))
	}
	created = setGatewayAddress(created, "192.0.2.61")

	prefix, exact := gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchExact
	rule := func(path string, kind gatewayv1.PathMatchType, backend string) gatewayv1.HTTPRouteRule {
		return gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &kind, Value: ptr(path)}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(backend), Port: ptr(gatewayv1.PortNumber(8080))}}}}}
	}
	rt := &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "edge", Namespace: ptr(gatewayv1.Namespace("infra"))}}},
			Hostnames:       []gatewayv1.Hostname{vhost},
			Rules:           []gatewayv1.HTTPRouteRule{rule("/ok", exact, "web"), rule("/broken", prefix, "api")},
		},
	}
	route := must[*unstructured.Unstructured](t)(routes.Create(bg, toUnstructured(t, rt), metav1.CreateOptions{}))

	labels := func(path string) map[string]string {
		return map[string]string{"target": "routes", "kind": "readiness", "namespace": "shop", "httproute": "shop", "gateway": "edge",
			"path": path, "address": vhost + ":8080"}
	}
	e.eventually(t, "the route probed through the Gateway", func(mfs map[string]*dto.MetricFamily) bool {
		ok, _ := stateOf(mfs, labels("/ok"))
		_, failed := value(mfs, "probe_failure_reason", map[string]string{"path": "/broken", "reason": "http_status"})
		synced, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "routes"})
		return ok == 1 && failed && synced == 1
	}, nil)
	mfs := e.scrape(t)
	for p, svc := range map[string]string{"/ok": "web", "/broken": "api"} {
		l := labels(p)
		l["service"] = svc
		if _, ok := stateOf(mfs, l); !ok {
			t.Errorf("%s: no series with its backend service=%q", p, svc)
		}
	}

	// A new rule, then the Gateway's address moves: the routes follow.
	rt.Spec.Rules = append(rt.Spec.Rules, rule("/new", prefix, "web"))
	rt.ResourceVersion = route.GetResourceVersion()
	must[*unstructured.Unstructured](t)(routes.Update(bg, toUnstructured(t, rt), metav1.UpdateOptions{}))
	e.eventually(t, "the new rule probed", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := stateOf(mfs, labels("/new"))
		return v == 1
	}, nil)
	setGatewayAddress(created, "192.0.2.62")
	e.eventually(t, "the probes through the Gateway's new address", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := stateOf(mfs, labels("/ok"))
		return hits["192.0.2.62:8080"].Load() > 0 && v == 1
	}, nil)
	moved := hits["192.0.2.61:8080"].Load()
	e.eventually(t, "no more probes through the old address", func(mfs map[string]*dto.MetricFamily) bool {
		// (one attempt may have been under way when the address moved)
		return hits["192.0.2.62:8080"].Load() > 6 && hits["192.0.2.61:8080"].Load() <= moved+3
	}, nil)

	must[struct{}](t)(struct{}{}, routes.Delete(bg, "shop", metav1.DeleteOptions{}))
	e.eventually(t, "the route's series gone", func(mfs map[string]*dto.MetricFamily) bool {
		return len(matching(mfs, "probe_state", map[string]string{"target": "routes"})) == 0
	}, nil)
	if n := misrouted.Load(); n != 0 {
		t.Errorf("%d requests reached the gateway with another Host", n)
	}
}

func toUnstructured(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}
