// Package charts tests the Helm chart: helm lint, helm template for each
// shape, and a strict server-side dry run of everything it renders on a
// real kube-apiserver with the Prometheus Operator's CRDs installed.
package charts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/probe-exporter/probe-exporter/config"
	_ "github.com/probe-exporter/probe-exporter/discovery/kubernetes" // the kubernetes: block
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

const chartDir = "probe-exporter"

// shapes are the value sets the tests render: each way to run it.
var shapes = map[string]string{
	"deployment":              "",
	"deployment-monitors":     "serviceMonitor.enabled=true,prometheusRule.enabled=true",
	"statefulset-sharded":     "mode=statefulset,replicas=3,podMonitor.enabled=true",
	"daemonset-mesh":          "mode=daemonset,podMonitor.enabled=true,prometheusRule.enabled=true",
	"namespaced-rbac":         "rbac.scope=namespaced,rbac.namespaces={shop,payments}",
	"no-autoreload-no-pdb":    "autoReload.enabled=false,podDisruptionBudget.enabled=false",
	"existing-serviceaccount": "serviceAccount.create=false,serviceAccount.name=probe-exporter",
}

func values(t *testing.T, set string) map[string]any {
	t.Helper()
	v := map[string]any{}
	if set != "" {
		if err := strvals.ParseInto(set, v); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func render(t *testing.T, set string) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = "probe-exporter", "monitoring"
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	rel, err := inst.Run(ch, values(t, set))
	if err != nil {
		t.Fatalf("helm template --set %s: %v", set, err)
	}
	return rel.Manifest
}

func TestLint(t *testing.T) {
	for name, set := range shapes {
		res := action.NewLint().Run([]string{chartDir}, values(t, set))
		for _, m := range res.Messages {
			if m.Severity > 1 { // above info: warnings and errors
				t.Errorf("%s: helm lint: %s", name, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("%s: helm lint: %v", name, err)
		}
	}
}

// TestTemplate: what each shape renders, read as an SRE would check it.
func TestTemplate(t *testing.T) {
	for name, set := range shapes {
		out := render(t, set)
		has := func(s string) bool { return strings.Contains(out, s) }
		switch name {
		case "deployment":
			if has("scope: mesh") {
				t.Errorf("%s: the mesh config outside daemonset mode", name)
			}
			for _, want := range []string{"kind: Deployment", "kind: PodDisruptionBudget", "kind: ClusterRole\n", "--config.auto-reload", "app.kubernetes.io/component: scrape-target"} {
				if !has(want) {
					t.Errorf("%s lacks %q", name, want)
				}
			}
			if has("kind: ServiceMonitor") || has("kind: PrometheusRule") {
				t.Errorf("%s: monitors rendered without being enabled", name)
			}
		case "statefulset-sharded":
			for _, want := range []string{"kind: StatefulSet", "serviceName: probe-exporter-headless", "clusterIP: None", "--total-shards=3", "apps.kubernetes.io/pod-index", "kind: PodMonitor"} {
				if !has(want) {
					t.Errorf("%s lacks %q", name, want)
				}
			}
		case "daemonset-mesh":
			for _, want := range []string{"kind: DaemonSet", "fieldPath: spec.nodeName", "operator: Exists", "kind: PrometheusRule", "ProbeMeshPartition", `scope: mesh`, "{{ $labels.source_node }}"} {
				if !has(want) {
					t.Errorf("%s lacks %q", name, want)
				}
			}
			if has("kind: PodDisruptionBudget") {
				t.Errorf("%s: a PodDisruptionBudget for a DaemonSet", name)
			}
		case "namespaced-rbac":
			if strings.Count(out, "kind: Role\n") != 2 || strings.Count(out, "kind: RoleBinding\n") != 2 || has("kind: ClusterRole") {
				t.Errorf("%s: want a Role and RoleBinding in each of two namespaces, no ClusterRole", name)
			}
		case "existing-serviceaccount":
			if has("\nkind: ServiceAccount\n") || !has("serviceAccountName: probe-exporter") {
				t.Errorf("%s: the ServiceAccount", name)
			}
		}
	}
	for _, bad := range []string{"mode=replicaset", "rbac.scope=namespaced", "rbac.scope=global"} {
		ch, _ := loader.Load(chartDir)
		inst := action.NewInstall(&action.Configuration{})
		inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
		inst.ReleaseName, inst.Namespace = "probe-exporter", "monitoring"
		if _, err := inst.Run(ch, values(t, bad)); err == nil {
			t.Errorf("--set %s rendered", bad)
		}
	}
}

// TestConfigsLoad: the configuration every shape renders is one the
// exporter loads.
func TestConfigsLoad(t *testing.T) {
	for name, set := range shapes {
		d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(render(t, set)), 4096)
		found := false
		for {
			var obj struct {
				Kind string            `json:"kind"`
				Data map[string]string `json:"data"`
			}
			if err := d.Decode(&obj); err != nil {
				break
			}
			if obj.Kind != "ConfigMap" {
				continue
			}
			found = true
			if _, err := config.Parse([]byte(obj.Data["config.yaml"]), name+"/config.yaml"); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if !found {
			t.Errorf("%s: no ConfigMap", name)
		}
	}
}

// TestAlertsInSync: the chart's PrometheusRule carries the shipped
// alerts, unit-tested in examples/.
func TestAlertsInSync(t *testing.T) {
	a, _ := os.ReadFile("../examples/probe-exporter-alerts.yml")
	b, _ := os.ReadFile(filepath.Join(chartDir, "files", "alerts.yml"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("charts/probe-exporter/files/alerts.yml differs from examples/probe-exporter-alerts.yml: copy it")
	}
}

// TestDryRun: every object every shape renders passes a strict
// server-side dry run on the real API server, the Prometheus Operator's
// CRDs installed for ServiceMonitor, PodMonitor and PrometheusRule.
func TestDryRun(t *testing.T) {
	crds := os.Getenv("PROBE_EXPORTER_OPERATOR_CRDS")
	if crds == "" {
		t.Skip("no Prometheus Operator CRDs: PROBE_EXPORTER_OPERATOR_CRDS is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	c := kubetest.Start(t)
	for _, kind := range []string{"servicemonitors", "podmonitors", "prometheusrules"} {
		c.Create(t, filepath.Join(crds, "monitoring.coreos.com_"+kind+".yaml"))
	}
	dir := t.TempDir()
	ns := filepath.Join(dir, "namespaces.yaml")
	if err := os.WriteFile(ns, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: payments}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Create(t, ns)
	for name, set := range shapes {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(render(t, set)), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, err := range c.DryRun(t, path) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
