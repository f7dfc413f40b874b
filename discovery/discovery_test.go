package discovery

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probe-exporter/probe-exporter/config"
)

func TestStatic(t *testing.T) {
	entry := &config.Entry{Name: "web", Static: []config.StaticHost{
		{Host: "127.0.0.1", Port: 8080},
		{Host: "::1", Labels: map[string]string{"rack": "r1"}},
	}}
	g := Static(entry)
	if g.Source != "static/web" {
		t.Errorf("source %q", g.Source)
	}
	if len(g.Targets) != 2 || g.Targets[0].Host != "127.0.0.1" || g.Targets[0].Port != 8080 ||
		g.Targets[1].Port != 0 || g.Targets[1].Labels["rack"] != "r1" {
		t.Errorf("targets %+v", g.Targets)
	}
	if g := Static(&config.Entry{Name: "empty"}); len(g.Targets) != 0 || g.Source != "static/empty" {
		t.Errorf("empty entry: %+v", g)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.ReportSynced(func() []EntrySynced {
		return []EntrySynced{{Entry: "web", Mechanism: "kubernetes", Synced: true}, {Entry: "files", Mechanism: "static", Synced: true}}
	})
	m.SetSkipped("web", "kubernetes", []string{"a", "b"}, map[string]int{"a": 2})
	if got := testutil.ToFloat64(m.skipped.WithLabelValues("web", "kubernetes", "a")); got != 2 {
		t.Errorf("skipped %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(syncedCollector{m}); n != 2 {
		t.Errorf("%d synced series, want one per entry reported", n)
	}
	m.Forget("web", "kubernetes")
	if n := testutil.CollectAndCount(m.skipped); n != 0 {
		t.Errorf("%d skipped series after Forget", n)
	}
	// A second source (or a second registry) never registers them again.
	NewMetrics(prometheus.NewRegistry())
}

// TestStaticIdentity: a static host keeps its identity when its labels
// change; two entries for one host and port stay distinct.
func TestStaticIdentity(t *testing.T) {
	before := Static(&config.Entry{Name: "web", Static: []config.StaticHost{
		{Host: "10.0.0.1", Port: 80, Labels: map[string]string{"zone": "a"}},
		{Host: "10.0.0.1", Port: 80, Labels: map[string]string{"zone": "b"}},
	}})
	after := Static(&config.Entry{Name: "web", Static: []config.StaticHost{
		{Host: "10.0.0.1", Port: 80, Labels: map[string]string{"zone": "c"}},
		{Host: "10.0.0.1", Port: 80, Labels: map[string]string{"zone": "b"}},
	}})
	if before.Targets[0].ID != after.Targets[0].ID || before.Targets[0].ID == before.Targets[1].ID {
		t.Errorf("ids %q %q -> %q", before.Targets[0].ID, before.Targets[1].ID, after.Targets[0].ID)
	}
}
