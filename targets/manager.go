package targets

import (
	"sync"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/scheduler"
)

// Syncer is the part of the scheduler a Manager drives.
type Syncer interface {
	Sync(source string, ts []scheduler.Target)
}

// Manager applies whole configurations: it builds every entry first, and
// only when all of them build does it touch the scheduler, so a config that
// fails leaves the running one as it was.
type Manager struct {
	sched Syncer

	mu      sync.Mutex
	sources map[string]bool
}

// NewManager returns a Manager driving sched.
func NewManager(sched Syncer) *Manager {
	return &Manager{sched: sched, sources: map[string]bool{}}
}

// Apply makes the scheduler run exactly what cfg describes. Unchanged
// targets keep their state; entries that are gone are stopped.
func (m *Manager) Apply(cfg *config.Config) error {
	entries := make([]*Entry, len(cfg.Targets))
	for i := range cfg.Targets {
		e, err := NewEntry(&cfg.Targets[i])
		if err != nil {
			return err
		}
		entries[i] = e
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[string]bool, len(entries))
	for i, e := range entries {
		g := discovery.Static(&cfg.Targets[i])
		m.sched.Sync(g.Source, e.Targets(g))
		next[g.Source] = true
	}
	for src := range m.sources {
		if !next[src] {
			m.sched.Sync(src, nil)
		}
	}
	m.sources = next
	return nil
}
