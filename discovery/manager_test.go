package discovery

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// block is a test mechanism's block: the hosts to send, or a start
// failure.
type block struct {
	Hosts []string
	Fail  bool
}

func (*block) SetDefaults()                    {}
func (*block) Validate(config.Checker, string) {}

// fakeSource runs blocks: one goroutine per run until its context ends,
// sending its hosts as one group, again on Resync.
type fakeSource struct{ starts, resyncs map[string]int }

type fakeRun struct {
	send  func(Group)
	g     Group
	done  chan struct{}
	src   *fakeSource
	entry string
}

func (r *fakeRun) Synced() bool { return true }
func (r *fakeRun) Wait()        { <-r.done }
func (r *fakeRun) Resync()      { r.src.resyncs[r.entry]++; r.send(r.g) }

func (f *fakeSource) Start(ctx context.Context, entry string, b config.Source, send func(Group)) (Running, error) {
	if b.(*block).Fail {
		return nil, errors.New("can't start")
	}
	f.starts[entry]++
	r := &fakeRun{send: send, done: make(chan struct{}), src: f, entry: entry, g: Group{Source: "g/" + entry}}
	for _, h := range b.(*block).Hosts {
		r.g.Targets = append(r.g.Targets, Target{Host: h})
	}
	send(r.g)
	go func() { <-ctx.Done(); close(r.done) }()
	return r, nil
}

// TestManagerLifecycle: what a reload does to running sources — start
// new ones, keep unchanged ones, resend when only the consumer's
// definition changed, restart changed ones (in place where the source
// can: static lists), stop removed ones and empty their groups — and a
// reload that can't start changes nothing.
func TestManagerLifecycle(t *testing.T) {
	src := &fakeSource{starts: map[string]int{}, resyncs: map[string]int{}}
	m := NewManager(map[string]Discoverer{"fake": src}, nil)
	defer m.Close()
	// groups is what the consumer holds, by consumer source.
	groups := map[string]int{}
	spec := func(entry, def string, b config.Source) Spec {
		mech := "fake"
		if _, ok := b.(config.StaticList); ok {
			mech = StaticMechanism
		}
		return Spec{Entry: entry, Source: &config.Discovered{Mechanism: mech, Config: b}, Def: def,
			Consume: func(r Run) func(Group) {
				return func(g Group) {
					if len(g.Targets) == 0 {
						delete(groups, r.Source(g.Source))
					} else {
						groups[r.Source(g.Source)] = len(g.Targets)
					}
				}
			}}
	}
	static := config.StaticList{{Host: "10.0.0.1"}}
	commits := 0
	commit := func() { commits++ }
	apply := func(specs ...Spec) error { return m.Apply(specs, commit) }

	if err := apply(spec("a", "1", &block{Hosts: []string{"x"}}), spec("s", "1", static)); err != nil {
		t.Fatal(err)
	}
	want := func(step string, w map[string]int) {
		t.Helper()
		if len(groups) != len(w) {
			t.Fatalf("%s: groups %v, want %v", step, groups, w)
		}
		for k, n := range w {
			if groups[k] != n {
				t.Fatalf("%s: groups %v, want %v", step, groups, w)
			}
		}
	}
	want("start", map[string]int{"a#1|g/a": 1, "s#2|static/s": 1})

	// A reload that can't start changes nothing, and commits nothing.
	if err := apply(spec("a", "1", &block{Hosts: []string{"x"}}), spec("b", "1", &block{Fail: true})); err == nil {
		t.Fatal("want the start error")
	}
	if commits != 1 || !m.Synced() {
		t.Fatalf("commits %d, synced %v", commits, m.Synced())
	}
	want("failed reload", map[string]int{"a#1|g/a": 1, "s#2|static/s": 1})

	// Only the consumer's definition changed: kept, resent.
	// An edited static list: updated in place, same name.
	if err := apply(spec("a", "2", &block{Hosts: []string{"x"}}), spec("s", "1", append(static, config.StaticHost{Host: "10.0.0.2"}))); err != nil {
		t.Fatal(err)
	}
	if src.starts["a"] != 1 || src.resyncs["a"] != 1 {
		t.Fatalf("starts %v resyncs %v", src.starts, src.resyncs)
	}
	want("definition changed", map[string]int{"a#1|g/a": 1, "s#2|static/s": 2})

	// A changed block restarts: a new run (gen 3 went to the failed
	// start), the old one's groups gone.
	if err := apply(spec("a", "2", &block{Hosts: []string{"x", "y"}}), spec("s", "1", static)); err != nil {
		t.Fatal(err)
	}
	want("block changed", map[string]int{"a#4|g/a": 2, "s#2|static/s": 1})

	// Removed: stopped, its groups emptied.
	if err := apply(spec("s", "1", static)); err != nil {
		t.Fatal(err)
	}
	want("removed", map[string]int{"s#2|static/s": 1})
	m.Close()
	want("closed", map[string]int{})
}
