// Package charts tests the Helm chart: helm lint, helm template for each
// shape, and a strict server-side dry run of everything it renders on a
// real kube-apiserver with the Prometheus Operator's CRDs installed.
package charts

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/strvals"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

const chartDir = "probe-exporter"

// shapes are the value sets the tests render: each way to run it, as
// --set flags.
var shapes = map[string]string{
	"deployment":              "",
	"deployment-monitors":     "serviceMonitor.enabled=true,prometheusRule.enabled=true",
	"deployment-replicas":     "replicas=2",
	"statefulset-sharded":     "mode=statefulset,replicas=3,podMonitor.enabled=true",
	"daemonset-mesh":          "mode=daemonset,podMonitor.enabled=true,prometheusRule.enabled=true",
	"namespaced-rbac":         "rbac.scope=namespaced,rbac.namespaces={shop,payments}",
	"no-autoreload-no-pdb":    "autoReload.enabled=false,podDisruptionBudget.enabled=false",
	"existing-serviceaccount": "serviceAccount.create=false,serviceAccount.name=probe-exporter",
	"image-in-a-registry":     "image.repository=registry.example.com/sre/probe-exporter,image.tag=1.2.3",
	"events":                  "kubernetesEvents.enabled=true",
	"events-namespaced":       "kubernetesEvents.enabled=true,rbac.scope=namespaced,rbac.namespaces={shop}",
	"readiness-gate":          "readinessGate.enabled=true,mode=daemonset",
	"replicas-view-off":       "replicasView.enabled=false",
}

// valueFiles are shapes written as a values file, as users write them
// (helm install -f values.yaml).
var valueFiles = map[string]string{
	"config-as-map": `config:
  targets:
    - name: web
      labels: {team: payments}
      static: [{host: 10.0.0.1, port: 8080}]
      readinessProbe:
        httpGet: {path: /healthz}
        periodSeconds: 5
`,
	"no-memory-limit": `resources:
  requests: {cpu: 100m, memory: 64Mi}
  limits: null
`,
	"config-as-string": `config: |
  # the file as it is on disk (--set-file config=config.yaml)
  targets:
    - name: web
      static: [{host: 10.0.0.1, port: 8080}]
      readinessProbe: {tcpSocket: {}}
`,
}

func init() {
	// README's worked example, as users install it.
	b, err := os.ReadFile("../examples/rollout-gate/values.yaml")
	if err != nil {
		panic(err)
	}
	valueFiles["rollout-gate-example"] = string(b)
}

// shapeNames is every shape, of both kinds.
func shapeNames() []string {
	var names []string
	for name := range shapes {
		names = append(names, name)
	}
	for name := range valueFiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// valuesOf is a shape's values: its --set flags or its values file.
func valuesOf(t *testing.T, name string) map[string]any {
	t.Helper()
	if file, ok := valueFiles[name]; ok {
		v, err := chartutil.ReadValues([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	set, ok := shapes[name]
	if !ok {
		set = name // --set flags given directly
	}
	return values(t, set)
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

// install renders the chart as helm install --dry-run does for a cluster
// of version kube ("v1.36.3" when empty).
func install(t *testing.T, vals map[string]any, kube string) (*release.Release, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if kube == "" {
		kube = "v1.36.3"
	}
	v, err := semver.NewVersion(kube)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = "probe-exporter", "monitoring"
	inst.KubeVersion = &chartutil.KubeVersion{Version: kube, Major: fmt.Sprint(v.Major()), Minor: fmt.Sprint(v.Minor())}
	return inst.Run(ch, vals)
}

func render(t *testing.T, name string) string {
	t.Helper()
	rel, err := install(t, valuesOf(t, name), "")
	if err != nil {
		t.Fatalf("helm template %s: %v", name, err)
	}
	return rel.Manifest
}

func TestLint(t *testing.T) {
	for _, name := range shapeNames() {
		res := action.NewLint().Run([]string{chartDir}, valuesOf(t, name))
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
	// Helm's warnings (a value of one type over a default of another)
	// go to the standard logger: a user would see them on every install.
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	for _, name := range shapeNames() {
		logged.Reset()
		out := render(t, name)
		if logged.Len() > 0 {
			t.Errorf("%s: helm says: %s", name, logged.String())
		}
		has := func(s string) bool { return strings.Contains(out, s) }
		lacks := func(wants ...string) {
			t.Helper()
			for _, want := range wants {
				if !has(want) {
					t.Errorf("%s lacks %q", name, want)
				}
			}
		}
		// One way to be scraped: annotations, or the operator's monitor.
		monitored := has("kind: ServiceMonitor") || has("kind: PodMonitor")
		if annotated := has("prometheus.io/scrape"); annotated == monitored {
			t.Errorf("%s: prometheus.io annotations %v with a monitor %v: Prometheus scrapes never or twice", name, annotated, monitored)
		}
		// The ConfigMap is a readable block, never a one-line string.
		lacks("config.yaml: |\n    ")
		switch name {
		case "deployment":
			// The default: the workloads' own probes, nothing they don't get already.
			// Its memory limit is the Go runtime's too.
			lacks("name: GOMEMLIMIT", "resourceFieldRef: {resource: limits.memory}")
			lacks("kind: Deployment", "kind: ClusterRole\n", "--config.auto-reload", "app.kubernetes.io/component: scrape-target",
				"- --web.replicas.kubernetes-selector=app.kubernetes.io/name=probe-exporter,app.kubernetes.io/instance=probe-exporter,app.kubernetes.io/component=scrape-target\n",
				"fieldRef: {fieldPath: metadata.name}")
			if got := gentle(t, out); got != "pod+inheritProbes/cluster" {
				t.Errorf("%s: the default config runs %s, want the pods' own probes", name, got)
			}
			for _, not := range []string{"kind: ServiceMonitor", "kind: PrometheusRule", "kind: PodDisruptionBudget"} {
				if has(not) {
					t.Errorf("%s renders %q", name, not)
				}
			}
		case "events", "events-namespaced":
			lacks("- --kubernetes.events\n", "- apiGroups: [events.k8s.io]\n    resources: [events]\n    verbs: [create, patch]")
		case "readiness-gate":
			lacks("- --kubernetes.readiness-gate\n", "- --kubernetes.readiness-gate.condition=probe-exporter.io/network-ready\n", "resources: [pods/status]\n    verbs: [patch]")
		case "rollout-gate-example":
			// README's worked example: the gate on, and the pods labelled as
			// the NetworkPolicy of examples/rollout-gate/app.yaml admits.
			lacks("kind: DaemonSet", "- --kubernetes.readiness-gate\n", "resources: [pods/status]\n    verbs: [patch]",
				"helm.sh/chart: probe-exporter-0.1.0\n        shop.example.com/web-client: \"true\"\n      annotations:", "scope: node")
		case "deployment-replicas":
			lacks("kind: PodDisruptionBudget", "maxUnavailable: 1")
		case "statefulset-sharded":
			lacks("kind: StatefulSet", "serviceName: probe-exporter-headless", "clusterIP: None", "--total-shards=3", "apps.kubernetes.io/pod-index", "kind: PodMonitor", "kind: PodDisruptionBudget")
		case "daemonset-mesh":
			lacks("kind: DaemonSet", "fieldPath: spec.nodeName", "operator: Exists", "kind: PrometheusRule", "ProbeMeshPartition", "{{ $labels.source_node }}")
			if got := gentle(t, out); got != "pod+inheritProbes/mesh:2" {
				t.Errorf("%s: the default config runs %s, want the pods' own probes over a mesh of 2", name, got)
			}
			if has("kind: PodDisruptionBudget") {
				t.Errorf("%s: a PodDisruptionBudget for a DaemonSet", name)
			}
		case "namespaced-rbac":
			// Each listed namespace's, and the replicas view's in the release's.
			if strings.Count(out, "kind: Role\n") != 3 || strings.Count(out, "kind: RoleBinding\n") != 3 || has("kind: ClusterRole") ||
				!has("name: probe-exporter-replicas\n  namespace: monitoring\n") {
				t.Errorf("%s: want a Role and RoleBinding in each of two namespaces and the replicas view's, no ClusterRole", name)
			}
		case "existing-serviceaccount":
			if has("\nkind: ServiceAccount\n") || !has("serviceAccountName: probe-exporter") {
				t.Errorf("%s: the ServiceAccount", name)
			}
		case "replicas-view-off":
			if has("--web.replicas") || has("POD_NAME") || has("-replicas") {
				t.Errorf("%s: the replicas view is still configured", name)
			}
		case "image-in-a-registry":
			lacks(`image: "registry.example.com/sre/probe-exporter:1.2.3"`)
		case "no-memory-limit":
			if has("GOMEMLIMIT") {
				t.Errorf("%s: GOMEMLIMIT without a memory limit", name)
			}
		case "config-as-map":
			lacks("    targets:\n    - labels:\n        team: payments\n      name: web\n")
		case "config-as-string":
			lacks("    # the file as it is on disk (--set-file config=config.yaml)\n    targets:\n      - name: web\n")
		}
	}
	for _, bad := range []struct{ set, kube, why string }{
		{"mode=replicaset", "", "mode must be"},
		{"rbac.scope=namespaced", "", ""},
		{"rbac.scope=global", "", ""},
		{"config=1", "", "config must be a YAML map or a string"},
		{"mode=statefulset", "v1.27.9", "needs Kubernetes 1.28"},
		{"", "v1.20.0", "kubeVersion"},
	} {
		if _, err := install(t, values(t, bad.set), bad.kube); err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("--set %s on %q: %v, want an error saying %q", bad.set, bad.kube, err, bad.why)
		}
	}
}

// TestNotes: what helm install prints says how to see the exporter work
// and, when the image names no registry (nothing is published, so a plain
// install would end in ErrImagePull), how to build, push and point at one.
func TestNotes(t *testing.T) {
	for _, c := range []struct {
		set  string
		warn bool
	}{
		{"", true},
		{"image.repository=probe-exporter/probe-exporter", true}, // Docker Hub's namespace, not a registry
		{"image.repository=registry.example.com/sre/probe-exporter", false},
		{"image.repository=localhost:5000/probe-exporter", false},
		{"image.repository=localhost/probe-exporter", false},
	} {
		rel, err := install(t, values(t, c.set), "")
		if err != nil {
			t.Fatal(err)
		}
		notes := rel.Info.Notes
		if warned := strings.Contains(notes, "names no registry"); warned != c.warn {
			t.Errorf("--set %s: warned %v, want %v:\n%s", c.set, warned, c.warn, notes)
		}
		for _, want := range []string{"kubectl -n monitoring port-forward svc/probe-exporter 9878", "/targets", "rollout status deployment/probe-exporter"} {
			if !strings.Contains(notes, want) {
				t.Errorf("--set %s: the notes lack %q:\n%s", c.set, want, notes)
			}
		}
		if c.warn && !strings.Contains(notes, "--set image.repository=REGISTRY/probe-exporter") {
			t.Errorf("the warning doesn't say what to do:\n%s", notes)
		}
	}
}

// configOf is the configuration file a rendered chart's ConfigMap holds.
func configOf(t *testing.T, manifest string) (string, bool) {
	t.Helper()
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := d.Decode(&obj); err != nil {
			return "", false
		}
		if obj.Kind == "ConfigMap" {
			return obj.Data["config.yaml"], true
		}
	}
}

// gentle describes what a rendered default configuration runs, one entry
// of each: "pod+inheritProbes/<scope>[:peers]" when it runs only the
// workloads' own probes and adds none of its own.
func gentle(t *testing.T, manifest string) string {
	t.Helper()
	text, _ := configOf(t, manifest)
	c, err := config.Parse([]byte(text), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, e := range c.Targets {
		k, ok := e.Discovered.Config.(*kubernetes.Config)
		if !ok || len(e.Probes()) > 0 || !k.InheritProbes {
			runs = append(runs, fmt.Sprintf("%s: probes of its own or not the pods' (%+v)", e.Name, e.Discovered.Config))
			continue
		}
		run := k.Role + "+inheritProbes/" + k.Scope
		if k.Scope == kubernetes.ScopeMesh {
			run += fmt.Sprintf(":%d", k.MeshPeers)
		}
		runs = append(runs, run)
	}
	return strings.Join(runs, ", ")
}

// TestConfigsLoad: the configuration every shape renders is one the
// exporter loads.
func TestConfigsLoad(t *testing.T) {
	for _, name := range shapeNames() {
		text, found := configOf(t, render(t, name))
		if !found {
			t.Errorf("%s: no ConfigMap", name)
			continue
		}
		if _, err := config.Parse([]byte(text), name+"/config.yaml"); err != nil {
			t.Errorf("%s: %v", name, err)
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
	for _, name := range shapeNames() {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(render(t, name)), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, err := range c.DryRun(t, path) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValuesDocumented: every value the chart takes is in its README's
// table, and the table names no value the chart doesn't take.
func TestValuesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	// A value is a leaf, or a map the user fills (resources, labels...).
	var keys []string
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, val := range v {
			key := prefix + k
			if m, ok := val.(map[string]any); ok && len(m) > 0 && k != "resources" {
				walk(key+".", m)
				continue
			}
			keys = append(keys, key)
		}
	}
	walk("", ch.Values)
	sort.Strings(keys)
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("value %s is not in %s/README.md's table", k, chartDir)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("%s/README.md documents %s, which values.yaml doesn't have", chartDir, k)
	}
}
