package kubernetes

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/internal/await"
)

// TestWiring: an entry's discovery from the informers to the groups it
// sends, on client-go's fake clientset (no API server, no root): the
// listed objects arrive as targets, the run says it is synced, a change
// and a deletion reach the consumer, and stopping ends every goroutine
// (goleak). The real API server runs the same paths end to end in
// cmd/probe-exporter and internal/parity.
func TestWiring(t *testing.T) {
	t.Parallel()
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	client := fake.NewSimpleClientset(slice,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}})
	ctx, cancel := context.WithCancel(context.Background())
	d := New(ctx, Options{Client: client}, discovery.NewMetrics(nil), nil)
	cfg := &Config{Role: RoleEndpointSlice, Namespaces: []string{"shop"}}
	cfg.SetDefaults()

	var mu sync.Mutex
	groups := map[string]discovery.Group{}
	addresses := func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, g := range groups {
			for _, tg := range g.Targets {
				out = append(out, tg.HostPort()+" ready="+tg.Labels["ready"])
			}
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	run, err := d.Start(ctx, "web", cfg, func(g discovery.Group) {
		mu.Lock()
		defer mu.Unlock()
		groups[g.Source] = g
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); run.Wait() }()
	await.True(t, "the listed slice's target", func() bool { return addresses() == "10.0.0.1:8080 ready=true" })
	await.True(t, "synced", run.Synced)

	notReady := false
	slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}})
	if _, err := client.DiscoveryV1().EndpointSlices("shop").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	await.True(t, "the change", func() bool { return addresses() == "10.0.0.1:8080 ready=true,10.0.0.2:8080 ready=false" })

	if err := client.DiscoveryV1().EndpointSlices("shop").Delete(ctx, "web-abc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	await.True(t, "the deletion", func() bool { return addresses() == "" })
}
