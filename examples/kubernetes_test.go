package examples

import (
	"context"
	"os"
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
	files = append(files, "rollout-gate/app.yaml") // the app's side of README's rollout gate
	for _, f := range files {
		for _, err := range c.DryRun(t, f) {
			t.Error(err)
		}
	}
}

// TestOperatorProbeDryRun: the Probe object README shows passes a strict
// server-side dry run with the Prometheus Operator's CRDs installed.
func TestOperatorProbeDryRun(t *testing.T) {
	crds := os.Getenv("PROBE_EXPORTER_OPERATOR_CRDS")
	if crds == "" {
		t.Skip("no Prometheus Operator CRDs: PROBE_EXPORTER_OPERATOR_CRDS is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	c := kubetest.Start(t)
	c.Create(t, filepath.Join(crds, "monitoring.coreos.com_probes.yaml"))
	c.Apply(t, "kubernetes/rbac.yaml") // the monitoring namespace
	for _, err := range c.DryRun(t, "prometheus-operator-probe.yaml") {
		t.Error(err)
	}
}
