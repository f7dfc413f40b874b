package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/probe-exporter/probe-exporter/config"
)

// Spec is one configuration entry for Manager to run.
type Spec struct {
	Entry string
	// Source is the entry's block: a registered mechanism's, or its
	// static list (config.Entry.Source).
	Source *config.Discovered
	// Def fingerprints how the consumer turns the entry's groups into
	// targets (probes, relabel_configs, labels). When only it changes, the
	// running source is kept and sends its groups again (Resync), so the
	// consumer re-derives them without the source restarting its watches.
	Def string
	// Consume is called when a run starts for the entry (new, or its block
	// changed): it returns what receives that run's groups, from the
	// source's goroutines. A run's groups are its own: when it stops, the
	// consumer is sent an empty group for each group it had.
	Consume func(Run) func(Group)
}

// Fingerprint is a short, stable digest of v's JSON: what tells a changed
// block or definition from an unchanged one without keeping its
// rendering (a 100k-host static list renders to 4.5 MB).
func Fingerprint(v any) string {
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return string(sum[:])
}

// Run names one run of an entry's source. A run that replaces another
// has a new Gen, so the two never share a consumer's sources while one
// starts and the other stops.
type Run struct {
	Entry string
	Gen   int
}

// Source is the name under which a consumer keeps the run's group.
func (r Run) Source(group string) string {
	return r.Entry + "#" + strconv.Itoa(r.Gen) + "|" + group
}

// Updater is a Running that takes a changed block in place and sends
// its groups again under the same names (a static list: an edited list
// keeps the probes of the hosts that stayed). A Running without it is
// restarted when its block changes.
type Updater interface {
	Update(block config.Source)
}

// Manager runs the sources of a configuration's entries: it starts new
// and changed ones, keeps unchanged ones running across reloads, stops
// those that are gone, and knows whether all of them are synced. It is
// discovery's whole lifecycle; what the groups become is the consumer's.
type Manager struct {
	sources map[string]Discoverer

	mu   sync.Mutex
	runs map[string]*run // by entry
	gen  int
	// running is every run after the last Apply, for Synced and the
	// synced metric (a snapshot: a scrape never waits for an Apply).
	running atomic.Pointer[[]*run]
}

// run is one running entry source.
type run struct {
	Run
	mechanism  string
	block, def string
	cancel     context.CancelFunc
	running    Running

	mu      sync.Mutex
	stopped bool
	send    func(Group)
	groups  map[string]bool // sent with targets: emptied at stop
}

// NewManager returns a Manager running sources by mechanism (the
// registered ones: Discoverers), static lists included. metrics, if set,
// renders every entry's synced state at scrape time.
func NewManager(sources map[string]Discoverer, metrics *Metrics) *Manager {
	all := make(map[string]Discoverer, len(sources)+1)
	for k, d := range sources {
		all[k] = d
	}
	all[StaticMechanism] = staticDiscoverer{}
	m := &Manager{sources: all, runs: map[string]*run{}}
	if metrics != nil {
		metrics.ReportSynced(m.syncedStates)
	}
	return m
}

// Apply makes the running sources exactly specs'. New and changed ones
// start first; if any can't, those started are stopped and nothing
// changes. Then commit (if set) runs, before anything running is told of
// the change — the consumer makes its new definitions current there —
// and sources that are gone or replaced stop, changed blocks are updated
// in place where the source can, and kept sources whose Def changed
// resend.
func (m *Manager) Apply(specs []Spec, commit func()) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range specs {
		if m.sources[s.Source.Mechanism] == nil {
			return fmt.Errorf("target %q: %s discovery is not enabled", s.Entry, s.Source.Mechanism)
		}
	}
	started := map[string]*run{}
	var updates, resyncs []func()
	for _, s := range specs {
		block := Fingerprint(s.Source)
		if old, ok := m.runs[s.Entry]; ok && old.mechanism == s.Source.Mechanism {
			u, updatable := old.running.(Updater)
			switch {
			case old.block == block:
				if old.def != s.Def {
					resyncs = append(resyncs, func() { old.def = s.Def; old.running.Resync() })
				}
				continue
			case updatable:
				updates = append(updates, func() { old.block, old.def = block, s.Def; u.Update(s.Source.Config) })
				continue
			}
		}
		m.gen++
		r, err := m.start(s, block, m.gen)
		if err != nil {
			for _, r := range started {
				r.stop()
			}
			return err
		}
		started[s.Entry] = r
	}
	if commit != nil {
		commit()
	}
	keep := make(map[string]bool, len(specs))
	for _, s := range specs {
		keep[s.Entry] = true
	}
	for name, r := range m.runs {
		if _, replaced := started[name]; replaced || !keep[name] {
			r.stop()
			delete(m.runs, name)
		}
	}
	for name, r := range started {
		m.runs[name] = r
	}
	for _, f := range append(updates, resyncs...) {
		f()
	}
	m.publish()
	return nil
}

func (m *Manager) start(s Spec, block string, gen int) (*run, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{Run: Run{Entry: s.Entry, Gen: gen}, mechanism: s.Source.Mechanism, block: block, def: s.Def,
		cancel: cancel, groups: map[string]bool{}}
	r.send = s.Consume(r.Run)
	running, err := m.sources[s.Source.Mechanism].Start(ctx, s.Entry, s.Source.Config, r.deliver)
	if err != nil {
		cancel()
		return nil, err
	}
	r.running = running
	return r, nil
}

// deliver passes a group to the consumer, and remembers which groups
// have targets, for stop.
func (r *run) deliver(g Group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return // a late send of a stopped source: its groups are gone
	}
	r.send(g)
	if len(g.Targets) > 0 {
		r.groups[g.Source] = true
	} else {
		delete(r.groups, g.Source)
	}
}

// stop ends the run and empties every group it had.
func (r *run) stop() {
	r.cancel()
	if r.running != nil {
		r.running.Wait()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for g := range r.groups {
		r.send(Group{Source: g})
	}
	r.groups = nil
}

// Close stops every source.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, r := range m.runs {
		r.stop()
		delete(m.runs, name)
	}
	m.publish()
}

func (m *Manager) publish() {
	rs := make([]*run, 0, len(m.runs))
	for _, r := range m.runs {
		rs = append(rs, r)
	}
	m.running.Store(&rs)
}

// Synced reports whether every entry's source has delivered everything
// it found (Running.Synced): --once waits for it.
func (m *Manager) Synced() bool {
	for _, e := range m.syncedStates() {
		if !e.Synced {
			return false
		}
	}
	return true
}

func (m *Manager) syncedStates() []EntrySynced {
	rs := m.running.Load()
	if rs == nil {
		return nil
	}
	out := make([]EntrySynced, len(*rs))
	for i, r := range *rs {
		out[i] = EntrySynced{Entry: r.Entry, Mechanism: r.mechanism, Synced: r.running.Synced()}
	}
	return out
}
