package discovery

import (
	"testing"

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
