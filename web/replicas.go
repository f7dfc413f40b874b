package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/probe-exporter/probe-exporter/replicas"
	"github.com/probe-exporter/probe-exporter/status"
)

// ReplicaAnswer says whether one replica answered a view across replicas.
type ReplicaAnswer struct {
	Name     string `json:"name"`
	URL      string `json:"url,omitempty"`
	Answered bool   `json:"answered"`
	Error    string `json:"error,omitempty"`
}

// Replicas is what a Site needs to answer for every replica: where they
// are, how to ask them, and which is this one.
type Replicas struct {
	Source replicas.Source
	Asker  *replicas.Asker
	// Self is this replica's name (its pod's): its answer, if the source
	// lists it, is dropped, its own rows carry it as their observer.
	Self string
}

// allScope reports whether a view asks for every replica (scope=all) and
// the site can answer it.
func (s *Site) allScope(v url.Values) bool {
	return v.Get("scope") == "all" && s.Replicas != nil
}

// acrossReplicas is what the other replicas said to one view across
// replicas (scope=all), asked before it is built.
type acrossReplicas struct {
	targets peersSaid[apiResponse]
	mesh    peersSaid[meshResponse]
}

// askAcross asks the other replicas for the views this one is to merge:
// their targets view for the same query (their first MaxLimit rows),
// their mesh rows, or both at once (one timeout, not two, for a replica
// that does not answer). The replicas are listed once, within the same
// timeout: an API or DNS server that stalls costs the view that, not
// more. Waiting on them holds no view slot (outsideSlot): two replicas
// building views across replicas at once each answer the other. ok is
// false when the client left meanwhile (the view is then not built).
func (s *Site) askAcross(ctx context.Context, v url.Values, q status.Query, targets, mesh bool) (a acrossReplicas, ok bool) {
	ok = outsideSlot(ctx, func() {
		listCtx, cancel := context.WithTimeout(ctx, s.Replicas.Asker.Timeout)
		rs, err := s.Replicas.Source.Replicas(listCtx)
		cancel()
		var listed []ReplicaAnswer
		if err != nil {
			listed = []ReplicaAnswer{{Name: "(replicas)", Error: err.Error()}}
		}
		var wg sync.WaitGroup
		if targets {
			wg.Go(func() {
				a.targets = askPeers(ctx, s.Replicas, rs, listed, targetsAsk(v, q), func(res *apiResponse) string { return res.Replica })
			})
		}
		if mesh {
			wg.Go(func() {
				a.mesh = askPeers(ctx, s.Replicas, rs, listed, "api/v1/mesh", func(res *meshResponse) string { return res.Replica })
			})
		}
		wg.Wait()
	})
	return a, ok
}

// targetsAsk is the path of the targets view a replica asks the others
// for: the same filters (an entry asked for by path included), from the
// first row, MaxLimit rows, not across replicas (a view never recurses).
func targetsAsk(v url.Values, q status.Query) string {
	ask := url.Values{}
	for k, vs := range v {
		ask[k] = vs
	}
	ask.Del("scope")
	if q.Target != "" {
		ask.Set("target", q.Target)
	}
	ask.Set("offset", "0")
	ask.Set("limit", strconv.Itoa(status.MaxLimit))
	return "api/v1/targets?" + ask.Encode()
}

// mergeTargets is a targets view over every replica: this one's rows
// and each other's, each row marked with its observer, ordered as one
// replica orders its own, then paged; which replicas answered; and how
// many rows in order the view holds (held). Each replica gives at most
// its first MaxLimit rows: once one that had more runs out, the rows
// after its last may miss some of its own, so the view ends there —
// held is less than Total, and paging stops at held.
func (s *Site) mergeTargets(q status.Query, peers peersSaid[apiResponse]) (p status.Page, answers []ReplicaAnswer, held int) {
	all := q
	all.Offset, all.Limit = 0, status.MaxLimit
	merged := status.Read(s.Probes, all)
	for i := range merged.Rows {
		merged.Rows[i].Observer = s.Replicas.Self
	}
	// cut: the replicas that had more rows than they gave, and how many
	// they gave.
	cut := map[string]int{}
	if merged.Total > len(merged.Rows) {
		cut[s.Replicas.Self] = len(merged.Rows)
	}
	for i, res := range peers.said {
		for j := range res.Data {
			res.Data[j].Observer = peers.names[i]
		}
		if res.Total > len(res.Data) {
			cut[peers.names[i]] = len(res.Data)
		}
		merged.Rows = append(merged.Rows, res.Data...)
		merged.Total += res.Total
		merged.Counts.Failure += res.Counts.Failure
		merged.Counts.Unknown += res.Counts.Unknown
		merged.Counts.Success += res.Counts.Success
	}
	slices.SortStableFunc(merged.Rows, func(a, b status.Row) int {
		if q.Sort == "changed" {
			if c := b.LastTransition.Compare(a.LastTransition); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(status.StateRank(a.State), status.StateRank(b.State)), strings.Compare(a.Target, b.Target),
			strings.Compare(a.Address, b.Address), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Observer, b.Observer))
	})
	held = len(merged.Rows)
	seen := map[string]int{}
	for i, r := range merged.Rows {
		if seen[r.Observer]++; len(cut) > 0 && seen[r.Observer] == cut[r.Observer] {
			held = i + 1 // that replica's last row given
			break
		}
	}
	limit := limitOf(q)
	start := min(q.Offset, held)
	merged.Rows = merged.Rows[start:min(held, start+limit)]
	return merged, s.answered(peers.answers), held
}

// mergeMesh is the mesh matrix's rows of every replica: each knows the
// rows of its own source node, so together they are the whole matrix.
func (s *Site) mergeMesh(peers peersSaid[meshResponse]) ([]status.Reach, []ReplicaAnswer) {
	reach := status.Mesh(s.Probes)
	seen := map[[2]string]bool{}
	for _, r := range reach {
		seen[[2]string{r.SourceNode, r.Node}] = true
	}
	for _, res := range peers.said {
		for _, r := range res.Data {
			if k := [2]string{r.SourceNode, r.Node}; !seen[k] { // each pair once
				seen[k] = true
				reach = append(reach, r)
			}
		}
	}
	slices.SortFunc(reach, func(a, b status.Reach) int {
		return cmp.Or(strings.Compare(a.SourceNode, b.SourceNode), strings.Compare(a.Node, b.Node))
	})
	return reach, s.answered(peers.answers)
}

// answered is every replica's answer to a view across replicas: this
// one's first.
func (s *Site) answered(others []ReplicaAnswer) []ReplicaAnswer {
	return append([]ReplicaAnswer{{Name: s.Replicas.Self, Answered: true}}, others...)
}

// peersSaid is what the other replicas answered to one path: each answer
// decoded, under the name its replica gives itself; and who answered and
// who did not.
type peersSaid[T any] struct {
	names   []string
	said    []*T
	answers []ReplicaAnswer
}

// askPeers asks the replicas rs for path, decoding each answer as a T;
// it leaves out this replica's own answer (a source lists it too), told
// apart by the name it gives itself (replicaOf). Its answers start with
// listed (the listing's error) and end with the replicas beyond the
// Asker's bound, named as not asked.
func askPeers[T any](ctx context.Context, r *Replicas, rs []replicas.Replica, listed []ReplicaAnswer, path string, replicaOf func(*T) string) peersSaid[T] {
	out := peersSaid[T]{answers: slices.Clone(listed)}
	for _, a := range r.Asker.Ask(ctx, rs, path) {
		ra := ReplicaAnswer{Name: a.Replica.Name, URL: a.Replica.URL}
		res := new(T)
		err := a.Err
		if err == nil {
			err = json.Unmarshal(a.Body, res)
		}
		switch name := replicaOf(res); {
		case err != nil:
			ra.Error = err.Error()
		case name == r.Self:
			continue // this replica, listed by the source too
		default:
			ra.Answered = true
			if name != "" {
				ra.Name = name
			}
			out.names, out.said = append(out.names, ra.Name), append(out.said, res)
		}
		out.answers = append(out.answers, ra)
	}
	for _, skipped := range rs[min(len(rs), r.Asker.Max):] {
		out.answers = append(out.answers, ReplicaAnswer{Name: skipped.Name, URL: skipped.URL,
			Error: fmt.Sprintf("not asked: more than %d replicas (--web.replicas.max)", r.Asker.Max)})
	}
	return out
}
