// Package examples holds the shipped configuration, rules and manifests;
// its tests check that they work as shipped.
package examples

import (
	"context"
	"net"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	_ "github.com/probe-exporter/probe-exporter/discovery/dns"
	_ "github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/internal/faults"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/targets"
)

// promtool is PROBE_EXPORTER_PROMTOOL (make test sets it through
// hack/test-binaries.sh), else promtool on PATH.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROBE_EXPORTER_PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: run through make test, or install Debian's prometheus package")
	}
	return p
}

// TestAlertRules: the shipped Prometheus configuration loads, and every
// shipped alert fires on its situation and stays quiet on healthy series
// (probe-exporter-alerts.test.yml), checked by a real promtool.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"}, // loads the rules too
		{"check", "rules", "probe-exporter-alerts.yml"},
		{"test", "rules", "probe-exporter-alerts.test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestStaticExampleExec: the static example's exec probes work on a stock
// Debian host as shipped: against a listening port they succeed, against
// a closed one they fail.
func TestStaticExampleExec(t *testing.T) {
	cfg, err := config.Load("static.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, listening, _ := net.SplitHostPort(faults.Listen(t, func(net.Conn) {})) // accepts, closes
	p, _ := strconv.Atoi(listening)
	open := int32(p)
	closed := freePort(t)
	n := 0
	for i := range cfg.Targets {
		entry := &cfg.Targets[i]
		e, err := targets.NewEntry(entry, prober.NewEnv(prober.EnvOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		for port, want := range map[int32]prober.Result{open: prober.Success, closed: prober.Failure} {
			g := discovery.Group{Source: "test", Targets: []discovery.Target{{Host: "127.0.0.1", Port: port}}}
			for _, st := range e.Targets(g) {
				for _, sp := range st.Specs {
					if sp.Prober.Type() != prober.Exec {
						continue
					}
					n++
					ctx, cancel := context.WithTimeout(context.Background(), sp.Timeout)
					o := sp.Prober.Probe(ctx, sp.Target)
					cancel()
					if o.Err != nil || o.Result != want {
						t.Errorf("%s %s against port %d: %v %v %q, want %v", entry.Name, sp.Kind, port, o.Result, o.Err, o.Output, want)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no exec probe in static.yaml")
	}
}

func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// TestMakeRunMatchesREADME: `make run` listens where the README's URL and
// curl point.
func TestMakeRunMatchesREADME(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LISTEN\s*\?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no LISTEN in the Makefile")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listen := string(m[1])
	for _, want := range []string{"make run    # build and run on the embedded default; open http://" + listen + "/metrics", "curl -s " + listen + "/metrics", "http://" + listen + "/targets"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README lacks %q", want)
		}
	}
}

// TestBastionExample: the bastion example loads and validates as shipped
// (its DNS and Kubernetes blocks included).
func TestBastionExample(t *testing.T) {
	cfg, err := config.Load("bastion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 3 {
		t.Fatalf("%d entries", len(cfg.Targets))
	}
	for _, e := range cfg.Targets {
		if e.Discovered == nil {
			t.Errorf("%s: discovers nothing", e.Name)
		}
	}
}

// TestQuickstartIsTheDefault: examples/quickstart.yaml, the embedded
// default written out for a user to copy, loads as it is (the default
// itself has placeholders filled at start) and says what the default
// says, but for the demo endpoint served only without a file.
func TestQuickstartIsTheDefault(t *testing.T) {
	copied, err := config.Load("quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := config.Default("127.0.0.1", 9878, false)
	if err != nil {
		t.Fatal(err)
	}
	var want []config.Entry
	for _, e := range def.Targets {
		if e.Name != "demo_flapping" {
			want = append(want, e)
		}
	}
	if !reflect.DeepEqual(copied.Targets, want) {
		t.Errorf("quickstart.yaml says\n%+v\nthe embedded default (without demo_flapping) says\n%+v", copied.Targets, want)
	}
}

// TestAlertsDocumented: every shipped alert says what it is (summary),
// what it means (description) and where its runbook is, and the runbook
// is a section of README.md, under the anchor GitHub gives its heading.
func TestAlertsDocumented(t *testing.T) {
	data, err := os.ReadFile("probe-exporter-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(readme), -1) {
		anchors[strings.ToLower(strings.ReplaceAll(m[1], " ", "-"))] = true
	}
	const base = "https://github.com/probe-exporter/probe-exporter/blob/main/README.md#"
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			a := r.Annotations
			if a["summary"] == "" || len(a["description"]) < 40 {
				t.Errorf("%s: want a summary and a description that explains", r.Alert)
			}
			if want := base + strings.ToLower(r.Alert); a["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, a["runbook_url"], want)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: README.md has no section for it", r.Alert)
			}
		}
	}
	if n < 14 {
		t.Errorf("%d alerts, want the 14 shipped", n)
	}
}
