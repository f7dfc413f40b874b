package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// BenchmarkGatePatchRate: the API load of the readiness gate at 1,000
// gated pods of which 1 % flap, on the real API server, counted by the
// API server itself (apiserver_request_total). The pods' addresses are
// local in the test's network namespace (10.99.0.0/22 on its loopback)
// and one HTTP server answers for all; ten of them turn unhealthy and
// healthy again every flapEvery — with periodSeconds 1, failureThreshold
// 3, successThreshold 1 each crosses both thresholds in every cycle, the
// most changes a probe can make at that pace. It reports how long the
// exporter takes to write all 1,000 gates at start (at
// --kubernetes.feedback-qps 20: a read and an apply each), then the
// applies and reads a minute while only the flapping pods change, beside
// the attempts a minute they come from.
func BenchmarkGatePatchRate(b *testing.B) {
	kubetest.RequireNetns(b)
	const pods, flapping, flapEvery, window = 1000, 10, 5 * time.Second, 60 * time.Second
	if out, err := exec.Command("ip", "route", "add", "local", "10.99.0.0/22", "dev", "lo").CombinedOutput(); err != nil {
		b.Fatalf("ip route: %v: %s", err, out)
	}
	ip := func(i int) string { return fmt.Sprintf("10.99.%d.%d", i/250, i%250+1) }
	var down atomic.Bool
	flaps := map[string]bool{}
	for i := 0; i < flapping; i++ {
		flaps[ip(i*(pods/flapping))] = true
	}
	l, err := net.Listen("tcp", "0.0.0.0:8080")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		if flaps[host] && down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { srv.Close() })

	c := kubetest.Start(b)
	c.Apply(b, "../../examples/kubernetes/rbac.yaml")
	grant(b, c.Client, "probe-exporter-gate", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/status"}, Verbs: []string{"patch"}})
	fast := *c.Admin
	fast.QPS, fast.Burst = 2000, 4000
	admin, err := kubernetes.NewForConfig(&fast)
	if err != nil {
		b.Fatal(err)
	}
	namespace(b, admin, "gated")
	created := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				runningPod(b, admin, &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "gated", Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{NodeName: "node-a", ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "probe-exporter.io/network-ready"}},
						Containers: []corev1.Container{{Name: "app", Image: "web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
				}, ip(i), nil)
			}
		}()
	}
	for i := 0; i < pods; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.Logf("created %d gated pods in %v", pods, time.Since(created).Round(time.Millisecond))

	env := &kubeEnv{c: c, kubeconfig: c.Kubeconfig(b, "exporter")}
	config := `
targets:
  - name: web
    kubernetes: {role: pod, namespaces: [gated]}
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1}
`
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		before := apiRequests(b, admin)
		began := time.Now()
		e := env.exporter(b, config, "--kubernetes.readiness-gate")
		written := func() float64 {
			v, _ := value(e.scrape(b), "probe_exporter_readiness_gate_writes_total", map[string]string{"result": "written"})
			return v
		}
		for written() < pods {
			if time.Since(began) > 10*time.Minute {
				b.Fatalf("%v of %d gates written after 10 minutes", written(), pods)
			}
			time.Sleep(time.Second)
		}
		startup := time.Since(began)
		atStart := apiRequests(b, admin)

		stop := make(chan struct{})
		go func() {
			t := time.NewTicker(flapEvery)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					down.Store(!down.Load())
				}
			}
		}()
		time.Sleep(2 * flapEvery) // the first cycle's changes under way
		from, fromAttempts := apiRequests(b, admin), attempts(b, e)
		time.Sleep(window)
		to, toAttempts := apiRequests(b, admin), attempts(b, e)
		close(stop)
		perMin := func(d float64) float64 { return d / window.Minutes() }
		b.ReportMetric(startup.Seconds(), "s-to-all-written")
		b.ReportMetric(atStart.apply-before.apply, "applies-at-start")
		b.ReportMetric(atStart.get-before.get, "reads-at-start")
		b.ReportMetric(perMin(to.apply-from.apply), "applies/min")
		b.ReportMetric(perMin(to.get-from.get), "reads/min")
		b.ReportMetric(perMin(toAttempts-fromAttempts), "attempts/min")
		sup, _ := value(e.scrape(b), "probe_exporter_readiness_gate_writes_total", map[string]string{"result": "superseded"})
		b.Logf("start: %d gates written in %v (%v applies, %v reads); then %d of %d pods flapping every %v: %.0f applies/min, %.0f reads/min, from %.0f attempts/min; superseded %v",
			pods, startup.Round(time.Second), atStart.apply-before.apply, atStart.get-before.get, flapping, pods, flapEvery,
			perMin(to.apply-from.apply), perMin(to.get-from.get), perMin(toAttempts-fromAttempts), sup)
	}
}

type podRequests struct{ apply, get float64 }

// apiRequests are the API server's own counts of applies to pods' status
// and reads of single pods, from its /metrics.
func apiRequests(b *testing.B, admin kubernetes.Interface) podRequests {
	b.Helper()
	raw, err := admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(bg)
	if err != nil {
		b.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	var r podRequests
	for _, m := range mfs["apiserver_request_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["resource"] != "pods" || l["scope"] != "resource" {
			continue
		}
		switch {
		case l["verb"] == "APPLY" && l["subresource"] == "status":
			r.apply += m.GetCounter().GetValue()
		case l["verb"] == "GET" && l["subresource"] == "":
			r.get += m.GetCounter().GetValue()
		}
	}
	return r
}

// attempts is how many probe attempts the exporter has made.
func attempts(b *testing.B, e *exporter) float64 {
	var sum float64
	for _, m := range e.scrape(b)["probe_results_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum
}
