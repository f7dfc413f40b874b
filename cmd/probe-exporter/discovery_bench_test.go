package main

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// BenchmarkDiscoveryScale: the binary discovers 10k Services and their 10k
// EndpointSlices (50k endpoints) from a real API server, as the exporter's
// unprivileged user, with the endpointslice role; it reports how long
// until probe_exporter_discovery_synced says so, and the process's RSS
// then and after settling. The probes wait out an hour's initial delay:
// nothing is dialed (and the endpoints' addresses route nowhere in the
// test's network namespace).
func BenchmarkDiscoveryScale(b *testing.B) {
	kubetest.RequireNetns(b)
	c := kubetest.Start(b)
	c.Apply(b, "../../examples/kubernetes/rbac.yaml")
	kubeconfig := c.Kubeconfig(b, "exporter")
	const services, perSlice = 10_000, 5
	fast := *c.Admin
	fast.QPS, fast.Burst = 5000, 10000
	client, err := kubernetes.NewForConfig(&fast)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scale"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	created := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := fmt.Sprintf("svc-%d", i)
				_, err := client.CoreV1().Services("scale").Create(bg, &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
					Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
						Selector: map[string]string{"app": name}},
				}, metav1.CreateOptions{})
				if err == nil {
					slice := &discoveryv1.EndpointSlice{
						ObjectMeta:  metav1.ObjectMeta{Name: name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
						AddressType: discoveryv1.AddressTypeIPv4,
						Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
					}
					for j := 0; j < perSlice; j++ {
						k := i*perSlice + j
						slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
							Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255)},
							Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
						})
					}
					_, err = client.DiscoveryV1().EndpointSlices("scale").Create(bg, slice, metav1.CreateOptions{})
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for i := 0; i < services; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.Logf("created %d Services and EndpointSlices in %v", services, time.Since(created).Round(time.Millisecond))

	path := filepath.Join(b.TempDir(), "config.yaml")
	writeConfig(b, path, `
targets:
  - name: slices
    kubernetes: {role: endpointslice, namespaces: [scale]}
    readinessProbe: {tcpSocket: {}, initialDelaySeconds: 3600, periodSeconds: 300}
`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		e := start(b, "--config.file="+path, "--kubeconfig="+kubeconfig, "--log.level=info", "--web.enable-pprof")
		// The exporter says when its discovery is synced (the metric says
		// the same; scraping 50k targets to poll it would load the CPU the
		// exporter is timed on).
		e.waitLog(b, "kubernetes discovery synced")
		synced := time.Since(began)
		if n := e.scrape(b)["probe_exporter_targets"].GetMetric(); len(n) != 1 || n[0].GetGauge().GetValue() != services*perSlice {
			b.Fatalf("synced with %v targets, want %d", n, services*perSlice)
		}
		rssSynced := procRSS(b, e.cmd.Process.Pid)
		time.Sleep(5 * time.Second)
		rssSettled := procRSS(b, e.cmd.Process.Pid)
		saveHeap(b, e, "discovery")
		b.ReportMetric(synced.Seconds(), "s-to-synced")
		b.ReportMetric(rssSynced/(1<<20), "rss-synced-MiB")
		b.ReportMetric(rssSettled/(1<<20), "rss-settled-MiB")
	}
}
