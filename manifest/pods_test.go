package manifest

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestAtPods: a workload's pods are found by its selector in its
// namespace, and become hosts with pod, node and namespace labels; a pod
// without an IP is reported with its phase, finished pods are left out,
// and a workload without pods says so. (client-go's fake clientset: the
// selection logic alone; the real API server runs it in TestCheckPods.)
func TestAtPods(t *testing.T) {
	t.Parallel()
	pod := func(name, app, ip string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: "node-a"}, Status: corev1.PodStatus{PodIP: ip, Phase: phase}}
	}
	client := fake.NewSimpleClientset(
		pod("web-a", "web", "10.0.0.1", corev1.PodRunning),
		pod("web-b", "web", "", corev1.PodPending),
		pod("web-old", "web", "10.0.0.9", corev1.PodSucceeded),
		pod("db-0", "db", "10.0.0.2", corev1.PodRunning),
	)
	cs, err := decode(strings.NewReader(`kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 80}}}]}}
---
kind: Deployment
metadata: {name: cache}
spec:
  selector: {matchLabels: {app: cache}}
  template: {metadata: {labels: {app: cache}}, spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 80}}}]}}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	where := AtPods(context.Background(), client, "shop")
	web, err := where(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(web) != 2 || web[0].Host != "10.0.0.1" || web[0].Labels["pod"] != "web-a" || web[0].Labels["node"] != "node-a" ||
		web[1].Reason != "pod web-b has no IP yet (Pending)" {
		t.Errorf("web's hosts: %+v", web)
	}
	cache, err := where(cs[1])
	if err != nil || len(cache) != 1 || cache[0].Reason != "no running pod matching app=cache in namespace shop" {
		t.Errorf("cache's hosts: %+v %v", cache, err)
	}
}
