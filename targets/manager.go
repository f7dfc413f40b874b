package targets

import (
	"errors"
	"fmt"
	"hash/fnv"
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
	// Discovery runs the entries' sources; nil runs static lists only.
	Discovery *discovery.Manager
	// Probers is the environment every entry builds its probers in.
	Probers *prober.Env
	// Host is where the exporter runs, for the sources' start-up checks
	// (Check).
	Host discovery.Host
	// Shard and TotalShards split targets across replicas by their
	// Identity.Shard; TotalShards 0 or 1 keeps everything.
	Shard, TotalShards int
}

// Manager applies whole configurations: it builds every entry, hands the
// entries' sources to discovery, and turns the groups they send into the
// scheduler's targets. A config that fails to build or start leaves the
// running one as it was.
type Manager struct {
	sched Syncer
	opts  Options

	mu sync.Mutex
	// current is each entry's built definition, by name: what its groups
	// are derived with. A kept source re-derives with the new one after a
	// reload (discovery resends).
	current map[string]*atomic.Pointer[Entry]
}

// NewManager returns a Manager driving sched.
func NewManager(sched Syncer, opts Options) *Manager {
	if opts.Probers == nil {
		opts.Probers = prober.NewEnv(prober.EnvOptions{})
	}
	if opts.Discovery == nil {
		opts.Discovery = discovery.NewManager(nil, nil)
	}
	return &Manager{sched: sched, opts: opts, current: map[string]*atomic.Pointer[Entry]{}}
}

// Synced reports whether every entry's source has delivered everything
// it found (discovery.Manager.Synced). --once waits for it.
func (m *Manager) Synced() bool { return m.opts.Discovery.Synced() }

// Apply makes the scheduler run exactly what cfg describes. Unchanged
// targets keep their state; entries that are gone are stopped.
func (m *Manager) Apply(cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	entries, err := Check(cfg, m.opts.Probers, m.opts.Host)
	if err != nil {
		return err
	}
	// A new run derives with its own entry from its first group on
	// (possibly during Apply); a kept run's entry is replaced at commit.
	started := map[string]*atomic.Pointer[Entry]{}
	specs := make([]discovery.Spec, len(entries))
	for i, e := range entries {
		t := &cfg.Targets[i]
		specs[i] = discovery.Spec{Entry: t.Name, Source: t.Source(), Def: discovery.Fingerprint(t), Consume: func(run discovery.Run) func(discovery.Group) {
			cur := new(atomic.Pointer[Entry])
			cur.Store(e)
			started[run.Entry] = cur
			return func(g discovery.Group) {
				ts := m.shard(run.Entry, g.Source, cur.Load().Targets(g))
				if len(ts) == 0 {
					ts = nil
				}
				m.sched.Sync(run.Source(g.Source), ts)
			}
		}}
	}
	return m.opts.Discovery.Apply(specs, func() {
		next := make(map[string]*atomic.Pointer[Entry], len(entries))
		for i, e := range entries {
			name := cfg.Targets[i].Name
			if cur, ok := started[name]; ok {
				next[name] = cur
			} else {
				next[name] = m.current[name]
				next[name].Store(e)
			}
		}
		m.current = next
	})
}

// Check is the one check a decoded, validated configuration
// (config.Parse) passes before it runs: every entry's probers, relabeling
// and network build (NewEntry), and every source's start-up checks pass
// where the exporter runs (discovery.Preflight). It reports every problem
// at once, and returns the built entries. Apply runs it first (at start,
// on reload, for --once and check); --config.check runs it alone.
func Check(cfg *config.Config, env *prober.Env, host discovery.Host) ([]*Entry, error) {
	entries := make([]*Entry, len(cfg.Targets))
	var errs []error
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		e, err := NewEntry(t, env)
		if err != nil {
			errs = append(errs, err)
		}
		entries[i] = e
		if p, ok := t.Source().Config.(discovery.Preflight); ok {
			if err := p.Preflight(host); err != nil {
				errs = append(errs, fmt.Errorf("target %q: %w", t.Name, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return entries, nil
}

// Close stops every source and removes its targets.
func (m *Manager) Close() { m.opts.Discovery.Close() }

// shard keeps the targets of a group that are this replica's.
func (m *Manager) shard(entry, group string, ts []scheduler.Target) []scheduler.Target {
	if m.opts.TotalShards <= 1 {
		return ts
	}
	out := ts[:0]
	for _, t := range ts {
		if (Identity{Entry: entry, Group: group, ID: discovery.ID(t.Key)}).Shard(m.opts.TotalShards) == m.opts.Shard {
			out = append(out, t)
		}
	}
	return out
}

// Identity is a target's identity: its entry, the group its source
// yields it in, and its ID within the group. It is the same on every
// replica (it depends only on configuration and what discovery sees), and
// it outlives reloads and relabeling.
type Identity struct {
	Entry, Group string
	ID           discovery.ID
}

// String is the identity as logs show it.
func (id Identity) String() string { return id.Entry + "/" + id.Group + "/" + id.ID.String() }

// Shard is the shard, of total, that probes the target: FNV-1a (64 bit)
// of "<entry>|<group>", a zero byte and the ID, modulo total. Every
// replica computes it alone, so replicas split the targets without
// talking; a target stays on its shard across reloads, relabeling and
// changes of its labels, and moves only when --total-shards changes.
func (id Identity) Shard(total int) int {
	h := fnv.New64a()
	h.Write([]byte(id.Entry))
	h.Write([]byte{'|'})
	h.Write([]byte(id.Group))
	h.Write([]byte{0})
	h.Write([]byte(id.ID))
	return int(h.Sum64() % uint64(total))
}

// ErrShard is returned for an impossible --shard / --total-shards pair.
var ErrShard = errors.New("--shard must be at least 0 and less than --total-shards")
