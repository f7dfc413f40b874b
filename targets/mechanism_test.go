package targets

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
)

// listBlock is a whole discovery mechanism in a test: a block listing
// hosts (list: {hosts: [...]}) and a runtime that sends them once. It is
// what a new source costs: its block, its Discoverer and Running, one
// discovery.Register; the exporter's decoding, validation, targets,
// scheduler and synced metric take it from there.
type listBlock struct {
	Hosts []string `yaml:"hosts"`
}

func (b *listBlock) SetDefaults() {}

func (b *listBlock) Validate(c config.Checker, path string) {
	if len(b.Hosts) == 0 {
		c.Add(path+".hosts", "Required value")
	}
}

type listDiscoverer struct{}

type listRun struct {
	done   chan struct{}
	synced atomic.Bool
}

func (r *listRun) Synced() bool { return r.synced.Load() }
func (r *listRun) Wait()        { <-r.done }
func (r *listRun) Resync()      {}

func (listDiscoverer) Start(ctx context.Context, entry string, block config.Source, send func(discovery.Group)) (discovery.Running, error) {
	g := discovery.Group{Source: "list/" + entry}
	for _, h := range block.(*listBlock).Hosts {
		g.Targets = append(g.Targets, discovery.Target{Host: h, Port: 80})
	}
	send(g)
	r := &listRun{done: make(chan struct{})}
	r.synced.Store(true)
	go func() { <-ctx.Done(); close(r.done) }()
	return r, nil
}

func init() {
	discovery.Register("list", func() config.Source { return &listBlock{} }, func(discovery.Deps) discovery.Discoverer { return listDiscoverer{} })
}

// TestNewMechanism: a mechanism registered once is decoded strictly
// (file:line:column), validated, run, and its targets scheduled.
func TestNewMechanism(t *testing.T) {
	if _, err := config.Parse([]byte("targets: [{name: l, list: {hostz: [a]}, readinessProbe: {tcpSocket: {}}}]\n"), "l.yaml"); err == nil ||
		!strings.Contains(err.Error(), `l.yaml:1:28: targets[0].list.hostz: unknown field "hostz"`) {
		t.Errorf("strict decoding: %v", err)
	}
	cfg := load(t, "targets: [{name: l, list: {hosts: [10.0.0.1, 10.0.0.2]}, readinessProbe: {tcpSocket: {}}}]\n")
	r := recorder{}
	m := NewManager(r, Options{Discovery: discovery.NewManager(discovery.Discoverers(discovery.Deps{Ctx: context.Background()}), nil)})
	defer m.Close()
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, ts := range r {
		for _, tg := range ts {
			addrs = append(addrs, tg.Specs[0].Labels.Address())
		}
	}
	if strings.Join(addrs, ",") != "10.0.0.1:80,10.0.0.2:80" || !m.Synced() {
		t.Errorf("scheduled %v, synced %v", addrs, m.Synced())
	}
}
