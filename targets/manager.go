package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
)

// Syncer is the part of the scheduler a Manager drives.
type Syncer interface {
	Sync(source string, ts []scheduler.Target)
}

// Options configure a Manager.
type Options struct {
	// Sources run discovered entries, by mechanism (the entry's block
	// key); an entry whose mechanism has none is refused.
	Sources map[string]discovery.Discoverer
	// Probers is the environment every entry builds its probers in.
	Probers *prober.Env
	// Metrics, if set, render every entry's synced state (static entries
	// always synced) from the manager at scrape time.
	Metrics *discovery.Metrics
	// Shard and TotalShards split targets across replicas by a stable hash
	// of their identity; TotalShards 0 or 1 keeps everything.
	Shard, TotalShards int
}

// Manager applies whole configurations: it builds every entry and starts
// every new discovery first, and only when all of that worked does it
// touch the scheduler, so a config that fails leaves the running one as
// it was.
type Manager struct {
	sched Syncer
	opts  Options

	mu      sync.Mutex
	static  map[string]string // scheduler sources of static entries, to their entry
	dynamic map[string]*dynamic
	gen     int
	// entries is every entry of the running configuration, for
	// syncedStates.
	entries atomic.Pointer[[]runningEntry]
}

// dynamic is one running discovered entry.
type dynamic struct {
	// disc is the discovery block: only when it changes do watches
	// restart. def is the whole entry: when only it changes (a probe,
	// relabel_configs, labels), targets are re-derived from what the
	// running discovery knows, and unchanged probes keep their state.
	disc, def string
	mechanism string
	entry     atomic.Pointer[Entry]
	prefix    string // of its scheduler sources: a replaced run never shares them
	cancel    context.CancelFunc
	run       discovery.Running

	mu      sync.Mutex
	sources map[string]bool
}

// NewManager returns a Manager driving sched.
func NewManager(sched Syncer, opts Options) *Manager {
	if opts.Probers == nil {
		opts.Probers = prober.NewEnv(prober.EnvOptions{})
	}
	m := &Manager{sched: sched, opts: opts, static: map[string]string{}, dynamic: map[string]*dynamic{}}
	if opts.Metrics != nil {
		opts.Metrics.ReportSynced(m.syncedStates)
	}
	return m
}

// Synced reports whether every entry's discovery has delivered everything
// it found: static entries always have; a discovered one when its running
// source says so (discovery.Running.Synced). --once waits for it.
func (m *Manager) Synced() bool {
	for _, e := range m.syncedStates() {
		if !e.Synced {
			return false
		}
	}
	return true
}

// syncedStates is every entry's synced state, from the entries the last
// Apply left (a snapshot: a scrape never waits for an Apply).
func (m *Manager) syncedStates() []discovery.EntrySynced {
	es := m.entries.Load()
	if es == nil {
		return nil
	}
	out := make([]discovery.EntrySynced, len(*es))
	for i, e := range *es {
		out[i] = discovery.EntrySynced{Entry: e.name, Mechanism: "static", Synced: true}
		if e.run != nil {
			out[i].Mechanism, out[i].Synced = e.mechanism, e.run.Synced()
		}
	}
	return out
}

// runningEntry is one entry as syncedStates sees it: static (run nil),
// or its running discovery.
type runningEntry struct {
	name, mechanism string
	run             discovery.Running
}

// Apply makes the scheduler run exactly what cfg describes. Unchanged
// targets keep their state; entries that are gone are stopped.
func (m *Manager) Apply(cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	entries := make([]*Entry, len(cfg.Targets))
	for i := range cfg.Targets {
		if d := cfg.Targets[i].Discovered; d != nil && m.opts.Sources[d.Mechanism] == nil {
			return fmt.Errorf("target %q: %s discovery is not enabled", cfg.Targets[i].Name, d.Mechanism)
		}
		e, err := NewEntry(&cfg.Targets[i], m.opts.Probers)
		if err != nil {
			return err
		}
		entries[i] = e
	}

	// Start new and changed discovered entries; on any failure, stop what
	// was started and change nothing.
	started := map[string]*dynamic{}
	type rederive struct {
		d   *dynamic
		e   *Entry
		def string
	}
	var rederives []rederive
	for i, e := range entries {
		t := &cfg.Targets[i]
		if t.Discovered == nil {
			continue
		}
		def, _ := json.Marshal(t)
		disc, _ := json.Marshal(t.Discovered)
		if old, ok := m.dynamic[t.Name]; ok && old.disc == string(disc) {
			if old.def != string(def) {
				rederives = append(rederives, rederive{old, e, string(def)})
			}
			continue
		}
		m.gen++
		d, err := m.start(e, t, string(disc), string(def), m.gen)
		if err != nil {
			for _, s := range started {
				m.stop(s)
			}
			return err
		}
		started[t.Name] = d
	}

	nextStatic := map[string]string{} // source -> entry
	for i, e := range entries {
		if cfg.Targets[i].Discovered != nil {
			continue
		}
		g := discovery.Static(&cfg.Targets[i])
		m.sched.Sync(g.Source, m.shard(g.Source, e.Targets(g)))
		nextStatic[g.Source] = cfg.Targets[i].Name
	}
	for src := range m.static {
		if _, ok := nextStatic[src]; !ok {
			m.sched.Sync(src, nil)
		}
	}
	m.static = nextStatic

	keep := map[string]bool{}
	for _, t := range cfg.Targets {
		if t.Discovered != nil {
			keep[t.Name] = true
		}
	}
	for name, d := range m.dynamic {
		if _, replaced := started[name]; replaced || !keep[name] {
			m.stop(d)
			delete(m.dynamic, name)
		}
	}
	for name, d := range started {
		m.dynamic[name] = d
	}
	for _, r := range rederives {
		r.d.entry.Store(r.e)
		r.d.def = r.def
		r.d.run.Resync()
	}
	es := make([]runningEntry, 0, len(m.static)+len(m.dynamic))
	for _, name := range m.static {
		es = append(es, runningEntry{name: name})
	}
	for name, d := range m.dynamic {
		es = append(es, runningEntry{name: name, mechanism: d.mechanism, run: d.run})
	}
	m.entries.Store(&es)
	return nil
}

func (m *Manager) start(e *Entry, t *config.Entry, disc, def string, gen int) (*dynamic, error) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &dynamic{disc: disc, def: def, mechanism: t.Discovered.Mechanism, prefix: t.Name + "#" + strconv.Itoa(gen) + "|", cancel: cancel, sources: map[string]bool{}}
	d.entry.Store(e)
	name := t.Name
	run, err := m.opts.Sources[t.Discovered.Mechanism].Start(ctx, t.Name, t.Discovered.Config, func(g discovery.Group) {
		src := d.prefix + g.Source
		ts := m.shard(name+"|"+g.Source, d.entry.Load().Targets(g))
		d.mu.Lock()
		defer d.mu.Unlock()
		if ctx.Err() != nil {
			return // stopped: its sources are being removed
		}
		m.sched.Sync(src, ts)
		if len(ts) > 0 {
			d.sources[src] = true
		} else {
			delete(d.sources, src)
		}
	})
	if err != nil {
		cancel()
		return nil, err
	}
	d.run = run
	return d, nil
}

// stop ends a discovered entry and removes its targets.
func (m *Manager) stop(d *dynamic) {
	d.cancel()
	d.run.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	for src := range d.sources {
		m.sched.Sync(src, nil)
	}
	d.sources = map[string]bool{}
}

// Close stops every discovered entry.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, d := range m.dynamic {
		m.stop(d)
		delete(m.dynamic, name)
	}
	m.entries.Store(nil)
}

// shard keeps the targets of this shard: a stable hash of the source and
// the target's identity, so every replica agrees without talking.
func (m *Manager) shard(source string, ts []scheduler.Target) []scheduler.Target {
	if m.opts.TotalShards <= 1 {
		return ts
	}
	out := ts[:0]
	for _, t := range ts {
		if Shard(source, t.Key, m.opts.TotalShards) == m.opts.Shard {
			out = append(out, t)
		}
	}
	return out
}

// Shard is the shard of a target among total.
func Shard(source, key string, total int) int {
	h := fnv.New64a()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(total))
}

// ErrShard is returned for an impossible --shard / --total-shards pair.
var ErrShard = errors.New("--shard must be at least 0 and less than --total-shards")
