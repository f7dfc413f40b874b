package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

type fixed = state.Fixed

var appeared = time.Unix(1700000000, 0)

var names = series.NewNames([]string{"target", "kind", "address", "namespace"})

// probeOf makes a probe of entry at address that saw results (S, F, E).
func probeOf(entry string, kind probe.Kind, address, namespace, results string, changedAfter time.Duration) state.View {
	rec := state.Record{Machine: state.NewMachine(kind, 1, 2, appeared)}
	now := appeared.Add(changedAfter)
	for _, r := range results {
		o := prober.Outcome{Result: prober.Success}
		switch r {
		case 'F':
			o = prober.Outcome{Result: prober.Failure, Output: "<b>HTTP probe failed</b> with statuscode: 500"}
		case 'E':
			o = prober.Outcome{Err: errors.New("port did not resolve")}
		}
		rec.Apply(o, 2*time.Millisecond, now)
	}
	return state.View{Key: address, Kind: kind, Entry: entry, SuccessThreshold: 1, FailureThreshold: 2,
		Labels: series.New(names, []string{entry, kind.String(), address, namespace}), Record: rec}
}

func src() fixed {
	next := appeared.Add(time.Minute)
	f := fixed{
		probeOf("web", probe.Readiness, "10.0.0.1:80", "shop", "SS", 1*time.Second),
		probeOf("web", probe.Readiness, "10.0.0.2:80", "shop", "SFF", 3*time.Second),
		probeOf("web", probe.Liveness, "10.0.0.2:80", "shop", "", 0),
		probeOf("db", probe.Readiness, "10.0.0.3:5432", "data", "SEF", 2*time.Second),
	}
	f[0].Next = next
	return f
}

func TestRows(t *testing.T) {
	t.Parallel()
	p := Read(src(), Query{})
	if p.Total != 4 || len(p.Rows) != 4 {
		t.Fatalf("total %d, rows %d", p.Total, len(p.Rows))
	}
	var got []string
	for _, r := range p.Rows {
		got = append(got, fmt.Sprintf("%s %s %s %s", r.Target, r.Address, r.Kind, r.State))
	}
	// Failing first (by entry, address, kind), then unknown, then passing.
	want := []string{
		"web 10.0.0.2:80 readiness failure",
		"db 10.0.0.3:5432 readiness success", // one failure of two: still passing
		"web 10.0.0.1:80 readiness success",
		"web 10.0.0.2:80 liveness success",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	failing := p.Rows[0]
	if failing.ConsecutiveFailures != 2 || failing.ConsecutiveSuccesses != 0 || failing.FailureThreshold != 2 ||
		failing.LastResult != "failure" || failing.Reason == "" || !strings.Contains(failing.Output, "<b>") ||
		strings.Join(failing.History, ",") != "success,failure,failure" || failing.Labels["namespace"] != "shop" || len(failing.Labels) != 1 {
		t.Errorf("failing row %+v", failing)
	}
	if db := p.Rows[1]; strings.Join(db.History, ",") != "success,error,failure" || db.LastResult != "failure" || db.ConsecutiveFailures != 1 {
		t.Errorf("an error is in the history, and does not break the run: %+v", db)
	}
	// Each result's duration, the newest exactly (LastDuration), the
	// others as kept (within state.DurationPrecision).
	if d := failing.HistoryDurationsSeconds; len(d) != 3 || d[2] != 0.002 || math.Abs(d[0]/0.002-1) > state.DurationPrecision || d[0] == 0.002 {
		t.Errorf("durations %v", d)
	}
	if fresh := p.Rows[3]; fresh.HistoryDurationsSeconds == nil || len(fresh.HistoryDurationsSeconds) != 0 {
		t.Errorf("a probe never run has durations %v", fresh.HistoryDurationsSeconds)
	}
	if fresh := p.Rows[3]; fresh.LastResult != "" || len(fresh.History) != 0 || fresh.NextProbe != nil || !fresh.LastTransition.Equal(appeared) {
		t.Errorf("a probe never run: %+v", fresh)
	}
	if p.Rows[2].NextProbe == nil || !p.Rows[2].NextProbe.Equal(appeared.Add(time.Minute)) {
		t.Errorf("next probe %v", p.Rows[2].NextProbe)
	}
	if strings.Join(p.Entries, ",") != "db,web" {
		t.Errorf("entries %v", p.Entries)
	}
	// The JSON carries every documented field.
	data, _ := json.Marshal(failing)
	for _, f := range []string{"target", "kind", "address", "labels", "state", "consecutiveSuccesses", "consecutiveFailures", "lastResult", "reason", "lastDurationSeconds", "history", "historyDurationsSeconds", "nextProbe", "lastTransition"} {
		if !strings.Contains(string(data), `"`+f+`":`) {
			t.Errorf("JSON lacks %q: %s", f, data)
		}
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		query string
		want  []string // addresses/kinds in order
		total int
	}{
		{"state=failure", []string{"10.0.0.2:80/readiness"}, 1},
		{"target=db", []string{"10.0.0.3:5432/readiness"}, 1},
		{"kind=liveness", []string{"10.0.0.2:80/liveness"}, 1},
		{"label=namespace%3Dshop&state=success", []string{"10.0.0.1:80/readiness", "10.0.0.2:80/liveness"}, 2},
		{"label=namespace%3Dnowhere", nil, 0},
		{"address=10.0.0.2:80", []string{"10.0.0.2:80/readiness", "10.0.0.2:80/liveness"}, 2},
		{"sort=changed", []string{"10.0.0.2:80/readiness", "10.0.0.3:5432/readiness", "10.0.0.1:80/readiness", "10.0.0.2:80/liveness"}, 4},
		{"limit=2&offset=1", []string{"10.0.0.3:5432/readiness", "10.0.0.1:80/readiness"}, 4},
		{"offset=10", nil, 4},
	} {
		v, _ := url.ParseQuery(c.query)
		q, err := ParseQuery(v)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		p := Read(src(), q)
		var got []string
		for _, r := range p.Rows {
			got = append(got, r.Address+"/"+r.Kind)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") || p.Total != c.total {
			t.Errorf("%s: %v (total %d), want %v (total %d)", c.query, got, p.Total, c.want, c.total)
		}
	}
}

func TestParseQueryErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ query, want string }{
		{"state=down", `state: "down" is not success, failure or unknown`},
		{"kind=ready", `kind: "ready" is not readiness, liveness or startup`},
		{"sort=name", `sort: "name" is not state or changed`},
		{"label=noequals", `label: "noequals" is not name=value`},
		{"limit=-1", `limit: "-1" is not a number ≥ 0`},
		{"offset=x", `offset: "x" is not a number ≥ 0`},
	} {
		v, _ := url.ParseQuery(c.query)
		if _, err := ParseQuery(v); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.query, err, c.want)
		}
	}
}

// many is a state.Reader of n probes, one in ten failing.
func many(n int) fixed {
	f := make(fixed, n)
	for i := range f {
		results := "S"
		if i%10 == 0 {
			results = "FF"
		}
		f[i] = probeOf(fmt.Sprintf("entry-%d", i%50), probe.Readiness, fmt.Sprintf("10.%d.%d.%d:80", i>>16&255, i>>8&255, i&255), "ns", results, time.Duration(i)*time.Millisecond)
	}
	return f
}

// TestPageBound: a first page at 100k probes stays small.
func TestPageBound(t *testing.T) {
	t.Parallel()
	p := Read(many(100000), Query{})
	data, _ := json.Marshal(p.Rows)
	if len(p.Rows) != DefaultLimit || p.Total != 100000 || len(data) > 1<<20 {
		t.Errorf("%d rows of %d, %d bytes", len(p.Rows), p.Total, len(data))
	}
	if p.Rows[0].State != "failure" {
		t.Errorf("failing first: %+v", p.Rows[0])
	}
}

func TestMesh(t *testing.T) {
	t.Parallel()
	mesh := series.NewNames([]string{"target", "kind", "address", "node", "source_node"})
	at := func(address, node, results string, kind probe.Kind) state.View {
		st := probeOf("mesh", kind, address, "", results, 0)
		st.Labels = series.New(mesh, []string{"mesh", kind.String(), address, node, "a"})
		return st
	}
	isolation := series.NewNames([]string{"target", "kind", "address", "expect", "node", "source_node"})
	blocked := func(address, node, results string) state.View {
		st := probeOf("deny", probe.Readiness, address, "", results, 0)
		st.Labels = series.New(isolation, []string{"deny", "readiness", address, "unreachable", node, "a"})
		return st
	}
	src := fixed{
		blocked("10.0.2.1:5432", "b", "S"),  // blocked, as it should be
		blocked("10.0.3.1:5432", "c", "FF"), // reached
		at("10.0.1.1:80", "a", "S", probe.Readiness),
		at("10.0.2.1:80", "b", "S", probe.Readiness),
		at("10.0.2.2:80", "b", "FF", probe.Readiness),
		at("10.0.2.2:80", "b", "S", probe.Liveness),                    // readiness only
		probeOf("web", probe.Readiness, "10.0.0.1:80", "shop", "S", 0), // not mesh
	}
	got := Mesh(src)
	want := []Reach{{"a", "a", 1, 1, 0, 0}, {"a", "b", 1, 2, 1, 1}, {"a", "c", 0, 0, 0, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%v, want %v", got, want)
	}
}

// TestFirstKAsASort: the page's bounded selection keeps exactly what
// sorting every match and cutting would, for any k, in both orders.
func TestFirstKAsASort(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		ms := make([]match, r.IntN(300))
		for i := range ms {
			ms[i] = match{id: probeID{entry: fmt.Sprint("e", r.IntN(5)), address: fmt.Sprint("10.0.0.", i), kind: probe.Kind(r.IntN(3))},
				value: state.Value(r.IntN(3) - 1), since: appeared.Add(time.Duration(r.IntN(1000)) * time.Second)}
		}
		for _, sortBy := range []string{"state", "changed"} {
			order := orderBy(sortBy)
			k := r.IntN(len(ms) + 2)
			f := firstK{k: k, order: order}
			for _, m := range ms {
				f.offer(m)
			}
			want := slices.SortedFunc(slices.Values(ms), order)
			want = want[:min(k, len(want))]
			if got := f.sorted(); !slices.Equal(got, want) {
				t.Fatalf("round %d, %s, k %d of %d: kept\n%v\nwant\n%v", round, sortBy, k, len(ms), got, want)
			}
		}
	}
}
