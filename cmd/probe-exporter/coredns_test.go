package main

import (
	"fmt"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestCoreDNS runs the bastion's DNS-only mode end to end: a real CoreDNS
// with its kubernetes plugin serves a headless Service's EndpointSlice
// (endpoints with hostnames, as a StatefulSet's) from a real API server,
// and the exporter, with no Kubernetes access, finds the pods through SRV
// (ready pods only) and through the ordinal form (every pod the
// StatefulSet should have), and probes them on TEST-NET addresses of the
// test's namespace. An endpoint made not-ready leaves the SRV answer and
// turns red in the ordinal form, with NXDOMAIN as its reason.
func TestCoreDNS(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	ns := c.CoreDNS(t)
	namespace(t, c.Client, "shop")
	must[*corev1.Service](t)(c.Client.CoreV1().Services("shop").Create(bg, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": "web"},
			Ports:     []corev1.ServicePort{{Name: "http", Port: 8080}},
		},
	}, metav1.CreateOptions{}))
	addrs := []string{"192.0.2.51", "192.0.2.52", "192.0.2.53"}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abcde", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for i, a := range addrs {
		serveOn(t, a+":8080", nil)
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{a},
			Hostname:   ptr(fmt.Sprintf("web-%d", i)),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
		})
	}
	slice = must[*discoveryv1.EndpointSlice](t)(c.Client.DiscoveryV1().EndpointSlices("shop").Create(bg, slice, metav1.CreateOptions{}))

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: web-srv
    dns: {names: [_http._tcp.web.shop.svc.cluster.local], nameservers: [%[1]q], refreshInterval: 1s}
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1}
  - name: web-pods
    dns: {names: ["web-{0..2}.web.shop.svc.cluster.local"], type: A, port: 8080, nameservers: [%[1]q]}
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1, failureThreshold: 1}
`, ns))
	// No --kubeconfig: DNS is all the exporter has.
	e := start(t, "--config.file="+cfg)
	pod := func(i int) string { return fmt.Sprintf("web-%d.web.shop.svc.cluster.local:8080", i) }
	for i := range addrs {
		for _, entry := range []string{"web-srv", "web-pods"} {
			e.eventually(t, entry+" "+pod(i)+" ready", stateIs(map[string]string{"target": entry, "address": pod(i)}, 1), nil)
		}
	}

	// The kubelet marks web-1 not ready: CoreDNS drops it from the SRV
	// answer and from its name.
	slice.Endpoints[1].Conditions.Ready = ptr(false)
	slice = must[*discoveryv1.EndpointSlice](t)(c.Client.DiscoveryV1().EndpointSlices("shop").Update(bg, slice, metav1.UpdateOptions{}))
	e.eventually(t, "web-1 gone from SRV, red by its name", func(mfs map[string]*dto.MetricFamily) bool {
		_, inSRV := stateOf(mfs, map[string]string{"target": "web-srv", "address": pod(1)})
		v, _ := stateOf(mfs, map[string]string{"target": "web-pods", "address": pod(1)})
		return !inSRV && v == 0
	}, nil)
	e.waitLog(t, "lookup web-1.web.shop.svc.cluster.local on "+ns+": NXDOMAIN")
	mfs := e.scrape(t)
	for _, i := range []int{0, 2} {
		for _, entry := range []string{"web-srv", "web-pods"} {
			if v, _ := stateOf(mfs, map[string]string{"target": entry, "address": pod(i)}); v != 1 {
				t.Errorf("%s %s: state %v, want 1", entry, pod(i), v)
			}
		}
	}
	if v, _ := value(mfs, "probe_exporter_discovery_synced", map[string]string{"target": "web-srv", "mechanism": "dns"}); v != 1 {
		t.Errorf("web-srv synced %v", v)
	}

	// Ready again: back in SRV, green by its name.
	slice.Endpoints[1].Conditions.Ready = ptr(true)
	must[*discoveryv1.EndpointSlice](t)(c.Client.DiscoveryV1().EndpointSlices("shop").Update(bg, slice, metav1.UpdateOptions{}))
	for _, entry := range []string{"web-srv", "web-pods"} {
		e.eventually(t, entry+" web-1 ready again", stateIs(map[string]string{"target": entry, "address": pod(1)}, 1), nil)
	}
}
