package kubernetes

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestSyncedUnderContention: on a real API server, with GOMAXPROCS=1 and
// CPU hogs beside discovery, an endpointslice entry whose pods informer
// lists many pods no slice points at reaches synced=1 soon after its
// targets arrive (it stayed 0 for minutes on a busy machine).
func TestSyncedUnderContention(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns, pods = "busy", 400
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, pods)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < pods; i += 8 {
				_, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i)},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c:1"}}}}, metav1.CreateOptions{})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	port := int32(80)
	if _, err := c.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "s"}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// One P, and hogs that want it all.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var stop atomic.Bool
	var hogs sync.WaitGroup
	defer func() { stop.Store(true); hogs.Wait() }()
	for i := 0; i < 4; i++ {
		hogs.Add(1)
		go func() {
			defer hogs.Done()
			for n := 0; !stop.Load(); n++ {
			}
		}()
	}

	reg := prometheus.NewRegistry()
	d := New(ctx, Options{}, discovery.NewMetrics(reg), nil)
	cfg := &Config{Role: RoleEndpointSlice, Namespaces: []string{ns}, Kubeconfig: c.Kubeconfig(t, "admin")}
	cfg.SetDefaults()
	var got atomic.Bool
	running, err := d.Start(ctx, "busy", cfg, func(g discovery.Group) {
		if len(g.Targets) > 0 {
			got.Store(true)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer running.Wait()
	defer cancel()
	synced := running.Synced // the contract --once waits on
	deadline := time.Now().Add(60 * time.Second)
	for !got.Load() {
		if time.Now().After(deadline) {
			t.Fatal("no targets in 60 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	arrived := time.Now()
	// Nothing changes from here on: synced must turn 1 by itself.
	for !synced() {
		if time.Since(arrived) > 20*time.Second {
			t.Fatalf("synced still 0 %v after the targets arrived", time.Since(arrived).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("synced %v after the targets arrived", time.Since(arrived).Round(time.Millisecond))
}
