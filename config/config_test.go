package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/config"
	_ "github.com/probe-exporter/probe-exporter/discovery/dns"
	"github.com/probe-exporter/probe-exporter/discovery/kubernetes"

	"gopkg.in/yaml.v3"

	"github.com/probe-exporter/probe-exporter/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current output")

func TestLoadGood(t *testing.T) {
	t.Parallel()
	c, err := config.Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Targets); got != 3 {
		t.Fatalf("targets: got %d, want 3", got)
	}
	web := c.Targets[0]
	r := web.ReadinessProbe
	// Defaults applied exactly as SetDefaults_Probe does: only zeros change.
	if r.TimeoutSeconds != 1 || r.PeriodSeconds != 5 || r.SuccessThreshold != 1 || r.FailureThreshold != 2 {
		t.Errorf("readiness defaults: %+v", r)
	}
	if r.HTTPGet.Scheme != "HTTP" || r.HTTPGet.Path != "/healthz" || r.HTTPGet.Port.IntVal != 8080 {
		t.Errorf("httpGet: %+v", r.HTTPGet)
	}
	l := web.LivenessProbe
	if l.PeriodSeconds != 10 || l.FailureThreshold != 3 || l.TCPSocket.Port.IsString || l.TCPSocket.Port.IntVal != 8080 {
		t.Errorf("liveness: %+v %+v", l, l.TCPSocket)
	}
	if web.Static[1].Port != 9090 || web.Static[0].Labels["zone"] != "a" || web.Labels["team"] != "payments" {
		t.Errorf("static: %+v", web.Static)
	}
	g := c.Targets[1].StartupProbe.GRPC
	if g.Service == nil || *g.Service != "" {
		t.Errorf("grpc service should default to empty string, got %v", g.Service)
	}
	if got := c.Targets[2].LivenessProbe.Exec.Command; strings.Join(got, " ") != "/bin/true $(PROBE_HOST)" {
		t.Errorf("exec command: %q", got)
	}
	var kinds []string
	for _, kp := range web.Probes() {
		kinds = append(kinds, kp.Kind.String())
	}
	if strings.Join(kinds, ",") != "liveness,readiness" {
		t.Errorf("Probes() order: %v", kinds)
	}
}

func TestLoadEmpty(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(nil, "empty.yaml")
	if err != nil || len(c.Targets) != 0 {
		t.Fatalf("empty file: %v, %+v", err, c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := config.Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

// TestLoadBad checks every file in testdata/bad against its exact expected
// error text in the .err file beside it (go test -run TestLoadBad -update
// rewrites them; review the diff).
func TestLoadBad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := config.Load(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			golden.Check(t, strings.TrimSuffix(f, ".yaml")+".err", err.Error()+"\n", *update)
		})
	}
}

func TestLoadKubernetes(t *testing.T) {
	t.Parallel()
	c, err := config.Load("testdata/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	web := c.Targets[0].Discovered.Config.(*kubernetes.Config)
	if web.Role != kubernetes.RoleEndpointSlice || web.ClusterDomain != "cluster.local" || web.Scope != kubernetes.ScopeMesh || web.MeshPeers != 3 || web.IPFamily != "primary" {
		t.Errorf("defaults: %+v", web)
	}
	if p := c.Targets[0].ReadinessProbe.HTTPGet.Port; !p.IsString || p.StrVal != "http" {
		t.Errorf("named port: %+v", p)
	}
	if len(c.Targets[0].RelabelConfigs) != 2 || c.Targets[0].RelabelConfigs[1].Modulus != 4 {
		t.Errorf("relabel: %+v", c.Targets[0].RelabelConfigs)
	}
	if !c.Targets[1].Discovered.Config.(*kubernetes.Config).InheritProbes || len(c.Targets[1].Probes()) != 0 {
		t.Errorf("inherit: %+v", c.Targets[1])
	}
	if a := c.Targets[2].Discovered.Config.(*kubernetes.Config).Address; a != "dns" {
		t.Errorf("service address default: %q", a)
	}
}

// TestExamples keeps examples/ honest: every config file there, and every
// config.yaml inside a ConfigMap of the Kubernetes manifests, loads.
func TestExamples(t *testing.T) {
	t.Parallel()
	if _, err := config.Load("../examples/static.yaml"); err != nil {
		t.Error(err)
	}
	manifests, _ := filepath.Glob("../examples/kubernetes/*.yaml")
	found := 0
	for _, path := range manifests {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			if cfg, ok := doc.Data["config.yaml"]; ok && doc.Kind == "ConfigMap" {
				found++
				if _, err := config.Parse([]byte(cfg), path); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
		}
	}
	if found < 3 {
		t.Errorf("found %d example configs in manifests", found)
	}
}

// FuzzParse: no input makes the loader panic or hang; it loads or it
// says why. The seed corpus (every testdata file) runs with go test.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, path := range append(files, bad...) {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("no config and no error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// TestAliasBomb: a document whose aliases multiply at every level of the
// schema (1000 targets x 1000 hosts x 1000 labels from 3000 lines) is
// refused quickly instead of hanging the loader ("billion laughs").
func TestAliasBomb(t *testing.T) {
	// Not parallel: a large file turns the GC down for its decoding, process-wide.
	var b strings.Builder
	b.WriteString("targets:\n  - &t\n    name: x\n    readinessProbe: {tcpSocket: {port: 1}}\n    static: [&h {host: x, labels: {")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "l%d: v", i)
	}
	b.WriteString("}}")
	b.WriteString(strings.Repeat(", *h", 999))
	b.WriteString("]\n")
	b.WriteString(strings.Repeat("  - *t\n", 999))
	done := make(chan error, 1)
	go func() { _, err := config.Parse([]byte(b.String()), "bomb.yaml"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "aliases") {
			t.Fatalf("want a refusal naming aliases, got %v", err)
		}
	case <-time.After(60 * time.Second): // a hang detector, not a speed figure
		t.Fatal("the loader hangs on an alias bomb")
	}
}

// TestMergeKeys: YAML merge keys share probe defaults and labels; the
// mapping's own keys win, then earlier merged mappings.
func TestMergeKeys(t *testing.T) {
	t.Parallel()
	c, err := config.Load("testdata/merge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := c.Targets[1]
	if api.Labels["team"] != "payments" || api.Labels["tier"] != "api" {
		t.Errorf("labels %v", api.Labels)
	}
	r := api.ReadinessProbe
	if r.PeriodSeconds != 7 || r.FailureThreshold != 2 || r.TCPSocket == nil {
		t.Errorf("readiness %+v", r)
	}
	l := api.LivenessProbe
	if l.PeriodSeconds != 60 || l.TimeoutSeconds != 3 || l.FailureThreshold != 2 || l.TCPSocket == nil {
		t.Errorf("liveness %+v", l)
	}
}

// TestBigPlainFile: a large file without aliases is not mistaken for an
// alias bomb.
func TestBigPlainFile(t *testing.T) {
	// Not parallel: a large file turns the GC down for its decoding, process-wide.
	var b strings.Builder
	b.WriteString("targets:\n  - name: big\n    readinessProbe: {tcpSocket: {port: 80}}\n    static:\n")
	for i := 0; i < 160_000; i++ { // over a million nodes: more than aliases may expand to
		fmt.Fprintf(&b, "      - {host: 10.%d.%d.%d, labels: {zone: z%d}}\n", i>>16&255, i>>8&255, i&255, i%7)
	}
	c, err := config.Parse([]byte(b.String()), "big.yaml")
	if err != nil {
		t.Fatal(truncateErr(err))
	}
	if n := len(c.Targets[0].Static); n != 160_000 {
		t.Fatalf("%d hosts", n)
	}
}

func truncateErr(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// TestTooLarge: a file over MaxFileSize is refused at once, saying why.
func TestTooLarge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("# padding\n"), config.MaxFileSize/10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") || !strings.HasPrefix(err.Error(), path) {
		t.Fatalf("want a refusal naming the file and the cap, got %v", err)
	}
}

// TestSharedSequence: an anchored list used twice decodes both times
// (the decoder drops what it has decoded only where no alias can reach).
func TestSharedSequence(t *testing.T) {
	// Not parallel: a large file turns the GC down for its decoding, process-wide.
	c, err := config.Parse([]byte(`
targets:
  - name: a
    static: &hosts [{host: 10.0.0.1}, {host: 10.0.0.2}]
    readinessProbe: {tcpSocket: {port: 80}}
  - name: b
    static: *hosts
    readinessProbe: {tcpSocket: {port: 81}}
  - name: c
    static:
      - &h {host: 10.0.0.3}
      - {host: 10.0.0.4}
    readinessProbe: {tcpSocket: {port: 82}}
  - name: d
    static: [*h]
    readinessProbe: {tcpSocket: {port: 83}}
`), "shared.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 2, 2, 1} {
		if n := len(c.Targets[i].Static); n != want {
			t.Errorf("%s: %d hosts, want %d", c.Targets[i].Name, n, want)
		}
	}
	if h := c.Targets[3].Static[0].Host; h != "10.0.0.3" {
		t.Errorf("aliased host %q", h)
	}
}

// TestErrorFlood: a file of many bad entries reports the first 100
// errors and counts the rest, in memory and text that stay small (half a
// million messages cost 550 MB and a 60 MB reload answer before).
func TestErrorFlood(t *testing.T) {
	// Not parallel: a large file turns the GC down for its decoding, process-wide.
	const entries = 100_000
	data := []byte("targets:\n" + strings.Repeat("  - {}\n", entries))
	_, err := config.Parse(data, "flood.yaml")
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("not field errors: %v", err)
	}
	if len(es) != 101 || !strings.Contains(es[100].Msg, "more errors (the first 100 are listed)") || len(err.Error()) > 64<<10 {
		t.Errorf("%d errors, %d bytes of text; last: %v", len(es), len(err.Error()), es[len(es)-1])
	}
	if es[0].Line != 2 {
		t.Errorf("the first error is not the file's first: %v", es[0])
	}
}
