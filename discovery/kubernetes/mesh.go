package kubernetes

// DaemonSet mesh: which other nodes this replica probes.

import (
	"context"
	"hash/fnv"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// mesh recomputes which other nodes this exporter probes: the MeshPeers
// nodes that rank highest by rendezvous hashing of (this node, that node)
// among the nodes that have targets. Each node picks its own K, so total
// work grows N·K, and a node joining or leaving moves few choices.
func (r *run) mesh(ctx context.Context) {
	for {
		nodes := map[string]bool{}
		for _, inf := range r.primary {
			for _, o := range inf.GetStore().List() {
				switch v := o.(type) {
				case *discoveryv1.EndpointSlice:
					for _, ep := range v.Endpoints {
						if ep.NodeName != nil {
							nodes[*ep.NodeName] = true
						}
					}
				case *corev1.Pod:
					nodes[v.Spec.NodeName] = true
				}
			}
		}
		chosen := Peers(r.d.opts.NodeName, keys(nodes), int(r.cfg.MeshPeers))
		if old := r.peers.Load(); old == nil || !equalSet(*old, chosen) {
			r.peers.Store(&chosen)
			r.enqueueAll()
		}
		// Recomputed when the role's objects change (event-driven, not
		// polled); bursts of events coalesce into one pass.
		select {
		case <-ctx.Done():
			return
		case <-r.remesh:
		}
	}
}

func (r *run) acceptNode(node string) bool {
	if node == r.d.opts.NodeName {
		return true
	}
	if r.cfg.Scope != ScopeMesh {
		return false
	}
	p := r.peers.Load()
	return p != nil && (*p)[node]
}

// Peers returns self and the k nodes among candidates that rank highest
// for self by rendezvous hashing.
func Peers(self string, candidates []string, k int) map[string]bool {
	type scored struct {
		node  string
		score uint64
	}
	var s []scored
	for _, n := range candidates {
		if n == self || n == "" {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(self))
		h.Write([]byte{0})
		h.Write([]byte(n))
		s = append(s, scored{n, h.Sum64()})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].score > s[j].score })
	out := map[string]bool{self: true}
	for i := 0; i < len(s) && i < k; i++ {
		out[s[i].node] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
