package examples

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestManifestsDryRun: every object of examples/kubernetes passes a
// server-side dry run on a real kube-apiserver (validation and admission,
// nothing stored), after the namespace and ServiceAccount they need.
func TestManifestsDryRun(t *testing.T) {
	c := kubetest.Start(t)
	c.Apply(t, "kubernetes/rbac.yaml") // the monitoring namespace, the ServiceAccount
	// rbac-namespaced.yaml grants access in an application's namespace.
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) < 5 {
		t.Fatalf("manifests: %v", files)
	}
	for _, f := range files {
		for _, err := range c.DryRun(t, f) {
			t.Error(err)
		}
	}
}
