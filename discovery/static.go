package discovery

import (
	"context"
	"strconv"
	"sync"

	"github.com/probe-exporter/probe-exporter/config"
)

// StaticMechanism is the mechanism of an entry's static: list, the
// source every entry without a discovery block runs.
const StaticMechanism = config.StaticMechanism

// staticDiscoverer runs static lists: one group, sent at start and again
// on Resync, always synced. An edited list is taken in place (Update), so
// the hosts that stayed keep their probes' state.
type staticDiscoverer struct{}

func (staticDiscoverer) Start(_ context.Context, entry string, block config.Source, send func(Group)) (Running, error) {
	r := &staticRun{entry: entry, send: send}
	r.Update(block)
	return r, nil
}

type staticRun struct {
	entry string
	send  func(Group)

	mu sync.Mutex
	// hosts is the list (the configuration's own, not a copy): the group
	// is made from it for each send rather than kept, since at 100k hosts
	// it is 12 MB.
	hosts config.StaticList
}

func (r *staticRun) Synced() bool { return true }
func (r *staticRun) Wait()        {}

func (r *staticRun) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.send(staticGroup(r.entry, r.hosts))
}

func (r *staticRun) Update(block config.Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts = block.(config.StaticList)
	r.send(staticGroup(r.entry, r.hosts))
}

// Static returns the group of a static target entry.
func Static(entry *config.Entry) Group { return staticGroup(entry.Name, entry.Static) }

func staticGroup(entry string, hosts config.StaticList) Group {
	g := Group{Source: "static/" + entry, Targets: make([]Target, 0, len(hosts))}
	// A host's identity is its host and port (and which of the hosts with
	// that host and port it is): editing its labels keeps its state.
	seen := map[string]int{}
	for _, h := range hosts {
		hp := h.Host + "|" + strconv.Itoa(int(h.Port))
		g.Targets = append(g.Targets, Target{ID: IDOf(h.Host, strconv.Itoa(int(h.Port)), strconv.Itoa(seen[hp])), Host: h.Host, Port: h.Port, Labels: h.Labels})
		seen[hp]++
	}
	return g
}
