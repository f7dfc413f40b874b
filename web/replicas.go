package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

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

// acrossReplicas is a targets view over every replica: this one's rows
// and each other's (asked for the same filters, their first MaxLimit
// rows), each row marked with its observer, ordered as one replica
// orders its own, then paged; and which replicas answered.
func (s *Site) acrossReplicas(ctx context.Context, v url.Values, q status.Query) (status.Page, []ReplicaAnswer) {
	all := q
	all.Offset, all.Limit = 0, status.MaxLimit
	own := status.Read(s.Probes, all)
	for i := range own.Rows {
		own.Rows[i].Observer = s.Replicas.Self
	}
	merged := own
	answers := []ReplicaAnswer{{Name: s.Replicas.Self, Answered: true}}
	rs, err := s.Replicas.Source.Replicas(ctx)
	if err != nil {
		answers = append(answers, ReplicaAnswer{Name: "(replicas)", Error: err.Error()})
	}
	ask := url.Values{}
	for k, vs := range v {
		ask[k] = vs
	}
	ask.Del("scope")
	ask.Set("offset", "0")
	ask.Set("limit", strconv.Itoa(status.MaxLimit))
	answers = append(answers, askEach(ctx, s.Replicas, rs, "api/v1/targets?"+ask.Encode(), func(res *apiResponse) string { return res.Replica },
		func(name string, res *apiResponse) {
			for i := range res.Data {
				res.Data[i].Observer = name
			}
			merged.Rows = append(merged.Rows, res.Data...)
			merged.Total += res.Total
			merged.Counts.Failure += res.Counts.Failure
			merged.Counts.Unknown += res.Counts.Unknown
			merged.Counts.Success += res.Counts.Success
		})...)
	slices.SortStableFunc(merged.Rows, func(a, b status.Row) int {
		if q.Sort == "changed" {
			if c := b.LastTransition.Compare(a.LastTransition); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(status.StateRank(a.State), status.StateRank(b.State)), strings.Compare(a.Target, b.Target),
			strings.Compare(a.Address, b.Address), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Observer, b.Observer))
	})
	limit := limitOf(q)
	start := min(q.Offset, len(merged.Rows))
	merged.Rows = merged.Rows[start:min(len(merged.Rows), start+limit)]
	return merged, answers
}

// meshAcross is the mesh matrix's rows of every replica: each knows the
// rows of its own source node, so together they are the whole matrix.
func (s *Site) meshAcross(ctx context.Context) ([]status.Reach, []ReplicaAnswer) {
	reach := status.Mesh(s.Probes)
	answers := []ReplicaAnswer{{Name: s.Replicas.Self, Answered: true}}
	rs, err := s.Replicas.Source.Replicas(ctx)
	if err != nil {
		answers = append(answers, ReplicaAnswer{Name: "(replicas)", Error: err.Error()})
	}
	seen := map[[2]string]bool{}
	for _, r := range reach {
		seen[[2]string{r.SourceNode, r.Node}] = true
	}
	answers = append(answers, askEach(ctx, s.Replicas, rs, "api/v1/mesh", func(res *meshResponse) string { return res.Replica },
		func(_ string, res *meshResponse) {
			for _, r := range res.Data {
				if k := [2]string{r.SourceNode, r.Node}; !seen[k] { // each pair once
					seen[k] = true
					reach = append(reach, r)
				}
			}
		})...)
	slices.SortFunc(reach, func(a, b status.Reach) int {
		return cmp.Or(strings.Compare(a.SourceNode, b.SourceNode), strings.Compare(a.Node, b.Node))
	})
	return reach, answers
}

// askEach asks the replicas rs for path, decodes each answer as a T and
// hands keep each that answered, under the name it gives itself
// (replicaOf); it says who answered and who did not, leaving out this
// replica's own answer (a source lists it too).
func askEach[T any](ctx context.Context, r *Replicas, rs []replicas.Replica, path string, replicaOf func(*T) string, keep func(name string, res *T)) []ReplicaAnswer {
	var out []ReplicaAnswer
	for _, a := range r.Asker.Ask(ctx, rs, path) {
		ra := ReplicaAnswer{Name: a.Replica.Name, URL: a.Replica.URL}
		var res T
		err := a.Err
		if err == nil {
			err = json.Unmarshal(a.Body, &res)
		}
		switch name := replicaOf(&res); {
		case err != nil:
			ra.Error = err.Error()
		case name == r.Self:
			continue // this replica, listed by the source too
		default:
			ra.Answered = true
			if name != "" {
				ra.Name = name
			}
			keep(ra.Name, &res)
		}
		out = append(out, ra)
	}
	return out
}
