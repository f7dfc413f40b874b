package examples

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/probe-exporter/probe-exporter/relabel"
)

// TestKubernetesScrapeConfig: prometheus-kubernetes.yml finds every
// exporter pod of the shipped manifests through the annotations they set
// (Debian's Prometheus lacks kubernetes_sd, so promtool can't load it):
// its selector matches their labels, and the relabeling reads the
// annotations they carry, with a port a container exposes.
func TestKubernetesScrapeConfig(t *testing.T) {
	data, err := os.ReadFile("prometheus-kubernetes.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			KubernetesSD []struct {
				Role      string `yaml:"role"`
				Selectors []struct {
					Role, Label string
				} `yaml:"selectors"`
			} `yaml:"kubernetes_sd_configs"`
			Relabel []struct {
				SourceLabels []string `yaml:"source_labels"`
				Regex        string   `yaml:"regex"`
				Action       string   `yaml:"action"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatal(err)
	}
	if len(prom.ScrapeConfigs) != 1 || len(prom.ScrapeConfigs[0].KubernetesSD) != 1 || prom.ScrapeConfigs[0].KubernetesSD[0].Role != "pod" {
		t.Fatalf("want one pod-role job: %+v", prom)
	}
	job := prom.ScrapeConfigs[0]
	selector, err := labels.Parse(job.KubernetesSD[0].Selectors[0].Label)
	if err != nil {
		t.Fatal(err)
	}
	// Every annotation the relabeling reads, as Prometheus names it.
	read := map[string]bool{}
	keeps := map[string]string{}
	for _, r := range job.Relabel {
		for _, l := range r.SourceLabels {
			read[l] = true
			if r.Action == "keep" {
				keeps[l] = r.Regex
			}
		}
	}
	sanitize := regexp.MustCompile(`[^a-zA-Z0-9_]`)
	meta := func(annotation string) string {
		return "__meta_kubernetes_pod_annotation_" + sanitize.ReplaceAllString(annotation, "_")
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	workloads := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		d := utilyaml.NewYAMLOrJSONDecoder(fh, 4096)
		for {
			var w appsv1.Deployment // the template is where all three kinds keep it
			if err := d.Decode(&w); err != nil {
				break
			}
			if w.Kind != "Deployment" && w.Kind != "DaemonSet" && w.Kind != "StatefulSet" {
				continue
			}
			workloads++
			tpl := w.Spec.Template
			name := f + ": " + w.Kind + " " + w.Name
			if !selector.Matches(labels.Set(tpl.Labels)) {
				t.Errorf("%s: its pods' labels %v don't match the job's selector %s", name, tpl.Labels, selector)
			}
			a := tpl.Annotations
			if a["prometheus.io/scrape"] != "true" || !read[meta("prometheus.io/scrape")] || keeps[meta("prometheus.io/scrape")] != "true" {
				t.Errorf("%s: prometheus.io/scrape %q, or the job does not keep on it", name, a["prometheus.io/scrape"])
			}
			port := a["prometheus.io/port"]
			if !read[meta("prometheus.io/port")] {
				t.Error("the job does not read prometheus.io/port")
			}
			exposed := false
			for _, c := range tpl.Spec.Containers {
				for _, p := range c.Ports {
					exposed = exposed || strings.TrimSpace(port) == strconv.Itoa(int(p.ContainerPort))
				}
			}
			if !exposed {
				t.Errorf("%s: prometheus.io/port %q is not a container port", name, port)
			}
		}
		fh.Close()
	}
	if workloads != 3 {
		t.Errorf("%d workloads in examples/kubernetes, want 3 (Deployment, DaemonSet, StatefulSet)", workloads)
	}
}

// TestKubernetesScrapeAddress: prometheus-kubernetes.yml's relabeling
// makes a scrape address of an IPv4 and of an IPv6 pod IP (a bare $1:$2
// made "fd00::5:9878"), run through the relabel package, which follows
// Prometheus' relabeling rule for rule.
func TestKubernetesScrapeAddress(t *testing.T) {
	data, err := os.ReadFile("prometheus-kubernetes.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			Relabel []relabel.Config `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatal(err)
	}
	var rules []*relabel.Rule
	for _, c := range prom.ScrapeConfigs[0].Relabel {
		r, err := c.Compile()
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	for ip, want := range map[string]string{
		"10.0.0.5":             "10.0.0.5:9878",
		"fd00::5":              "[fd00::5]:9878",
		"2001:db8::a:b":        "[2001:db8::a:b]:9878",
		"::ffff:192.168.10.20": "[::ffff:192.168.10.20]:9878",
	} {
		ls := map[string]string{
			"__address__":              ip,
			"__meta_kubernetes_pod_ip": ip,
			"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
			"__meta_kubernetes_pod_annotation_prometheus_io_port":   "9878",
		}
		if !relabel.Process(ls, rules) {
			t.Fatalf("%s: dropped", ip)
		}
		if got := ls["__address__"]; got != want {
			t.Errorf("pod IP %s: __address__ %q, want %q", ip, got, want)
		}
		if _, _, err := net.SplitHostPort(ls["__address__"]); err != nil {
			t.Errorf("pod IP %s: %v", ip, err)
		}
	}
}
