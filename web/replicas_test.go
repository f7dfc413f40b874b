package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/replicas"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

type fixedReplicas []replicas.Replica

func (f fixedReplicas) Replicas(context.Context) ([]replicas.Replica, error) { return f, nil }

// TestAcrossReplicas: with scope=all a replica answers for every replica:
// its own rows and each other's, each marked with its observer, ordered
// as one view (failing first), the counts summed; a replica that is down
// and one that stalls are named as not answering, the stalled one costing
// the view its timeout, not more; the source listing this replica too
// changes nothing.
func TestAcrossReplicas(t *testing.T) {
	peer := func(name string) *httptest.Server {
		h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture(), Replicas: &Replicas{Self: name}}})
		if err != nil {
			t.Fatal(err)
		}
		return httptest.NewServer(h)
	}
	b, c := peer("pe-b"), peer("pe-c")
	defer b.Close()
	defer c.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalled.Close()
	defer close(release)
	self := &Replicas{Self: "pe-a", Asker: &replicas.Asker{Client: &http.Client{}, Max: 10, Timeout: 500 * time.Millisecond, MaxBody: 1 << 20}}
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture(), Replicas: self}})
	if err != nil {
		t.Fatal(err)
	}
	// The source lists this replica too (as a pod list does): its answer
	// is told apart by name and dropped.
	itself := peer("pe-a")
	defer itself.Close()
	self.Source = fixedReplicas{{Name: "10.0.0.1", URL: itself.URL + "/"}, {Name: "pe-b", URL: b.URL + "/"}, {Name: "pe-c", URL: c.URL + "/"},
		{Name: "pe-d", URL: down.URL + "/"}, {Name: "pe-e", URL: stalled.URL + "/"}}

	start := time.Now()
	_, _, body := get(t, h, "/api/v1/targets?scope=all")
	took := time.Since(start)
	var res apiResponse
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if took > 2*time.Second {
		t.Errorf("the view took %v with a stalled replica and a 500ms timeout", took)
	}
	var got []string
	for _, r := range res.Data {
		got = append(got, r.State+" "+r.Target+" "+r.Kind+" "+r.Observer)
	}
	want := "failure api readiness pe-a,failure api readiness pe-b,failure api readiness pe-c," +
		"success web liveness pe-a,success web liveness pe-b,success web liveness pe-c," +
		"success web startup pe-a,success web startup pe-b,success web startup pe-c"
	if strings.Join(got, ",") != want {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
	if res.Total != 9 || res.Counts.Failure != 3 || res.Counts.Success != 6 || res.Replica != "pe-a" {
		t.Errorf("total %d, counts %+v, replica %q", res.Total, res.Counts, res.Replica)
	}
	answered := map[string]bool{}
	for _, a := range res.Replicas {
		answered[a.Name] = a.Answered
		if !a.Answered && a.Error == "" {
			t.Errorf("%s did not answer, and no reason", a.Name)
		}
	}
	if len(res.Replicas) != 5 {
		t.Errorf("%d replicas said, want 5 (this one once): %+v", len(res.Replicas), res.Replicas)
	}
	for name, want := range map[string]bool{"pe-a": true, "pe-b": true, "pe-c": true, "pe-d": false, "pe-e": false} {
		if got, ok := answered[name]; !ok || got != want {
			t.Errorf("%s: answered %v (listed %v), want %v", name, got, ok, want)
		}
	}
	// The page: an observer column, the silent replicas named, and each
	// row's sparkline, the other replicas' drawn from their answers.
	_, _, page := get(t, h, "/targets?scope=all&state=failure")
	for _, w := range []string{`<th>Observer</th>`, `data-observer="pe-b"`, `not answering: pe-d`, `<option value="all" selected>all</option>`} {
		if !strings.Contains(page, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	if n := strings.Count(page, `<svg class="spark"`); n != 3 {
		t.Errorf("%d sparklines on the page of 3 failing rows", n)
	}
	// An entry asked for by path is asked of the others too: only its
	// rows, from every replica (the others were asked for every entry).
	_, _, one := get(t, h, "/api/v1/targets/api?scope=all")
	var api apiResponse
	if err := json.Unmarshal([]byte(one), &api); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range api.Data {
		rows = append(rows, r.Target+" "+r.Observer)
	}
	if strings.Join(rows, ",") != "api pe-a,api pe-b,api pe-c" || api.Total != 3 {
		t.Errorf("/api/v1/targets/api across replicas: %v, total %d; want api's row from each of 3", rows, api.Total)
	}
	// Without scope=all, one replica's own view, as before.
	_, _, own := get(t, h, "/api/v1/targets")
	if strings.Contains(own, `"observer"`) || strings.Contains(own, `"replicas"`) {
		t.Errorf("a replica's own view carries observers: %s", own)
	}
}

// meshFixture is one DaemonSet replica's probes: from its node to the
// pods of each node in to, passing or not.
func meshFixture(from string, to map[string]bool) probes {
	names := series.NewNames([]string{"target", "kind", "address", "node", "source_node"})
	var out probes
	for node, passing := range to {
		rec := state.Record{Machine: state.NewMachine(probe.Readiness, 1, 1, time.Now())}
		result := prober.Failure
		if passing {
			result = prober.Success
		}
		rec.Apply(prober.Outcome{Result: result}, time.Millisecond, time.Now())
		out = append(out, state.View{Key: from + node, Kind: probe.Readiness, Entry: "mesh",
			Labels: series.New(names, []string{"mesh", "readiness", "10.0.0.1:80", node, from}), Record: rec})
	}
	return out
}

// TestMeshAcrossReplicas: in DaemonSet mesh mode each replica knows its
// own node's row of the matrix; with scope=all any of them answers the
// whole matrix.
func TestMeshAcrossReplicas(t *testing.T) {
	b := httptest.NewServer(mustHandler(t, &Site{Probes: meshFixture("node-b", map[string]bool{"node-a": false, "node-b": true}), Replicas: &Replicas{Self: "pe-b"}}))
	defer b.Close()
	self := &Replicas{Self: "pe-a", Asker: &replicas.Asker{Client: &http.Client{}, Max: 10, Timeout: time.Second, MaxBody: 1 << 20},
		Source: fixedReplicas{{Name: "pe-b", URL: b.URL + "/"}}}
	h := mustHandler(t, &Site{Probes: meshFixture("node-a", map[string]bool{"node-a": true, "node-b": true}), Replicas: self})
	_, _, own := get(t, h, "/api/v1/mesh")
	_, _, all := get(t, h, "/api/v1/mesh?scope=all")
	var res meshResponse
	if err := json.Unmarshal([]byte(all), &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Data {
		got = append(got, fmt.Sprintf("%s>%s %d/%d", r.SourceNode, r.Node, r.Passing, r.Total))
	}
	if strings.Join(got, ",") != "node-a>node-a 1/1,node-a>node-b 1/1,node-b>node-a 0/1,node-b>node-b 1/1" {
		t.Errorf("the matrix across replicas: %v", got)
	}
	if strings.Contains(own, "node-b>") || strings.Contains(own, `"sourceNode":"node-b"`) {
		t.Errorf("one replica's own view has another's row: %s", own)
	}
	_, _, page := get(t, h, "/targets?scope=all")
	if !strings.Contains(page, "<tr><th>node-b</th>") {
		t.Error("the page's matrix lacks node-b's row")
	}
}

func mustHandler(t *testing.T, s *Site) http.Handler {
	t.Helper()
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: s})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAcrossReplicasHoldsNoSlot: a view across replicas waits on the
// others without a view slot. With every slot taken by views waiting on
// a stalled replica, this replica still answers a view of its own (a
// peer's question, in a view across replicas elsewhere): before, it
// waited for a slot until the stalled replica's timeout, and two
// replicas building such views at once each timed out on the other.
func TestAcrossReplicasHoldsNoSlot(t *testing.T) {
	asked := make(chan struct{}, statusViews)
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalled.Close()
	self := &Replicas{Self: "pe-a", Source: fixedReplicas{{Name: "pe-b", URL: stalled.URL + "/"}},
		Asker: &replicas.Asker{Client: &http.Client{}, Max: 10, Timeout: time.Minute, MaxBody: 1 << 20}}
	h := mustHandler(t, &Site{Probes: statusFixture(), Replicas: self})
	done := make(chan string, statusViews)
	for i := range statusViews {
		go func() {
			_, _, body := get(t, h, []string{"/targets?scope=all", "/api/v1/targets?scope=all", "/api/v1/mesh?scope=all"}[i%3])
			done <- body
		}()
	}
	for range statusViews {
		<-asked // every slot's view is waiting on pe-b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/targets", nil).WithContext(ctx))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"target":"api"`) {
		t.Errorf("a replica's own view beside %d views waiting on a stalled replica: %d %.200s", statusViews, rec.Code, rec.Body.String())
	}
	close(release)
	for range statusViews {
		if body := <-done; !strings.Contains(body, "pe-a") {
			t.Errorf("a view across replicas, once pe-b let go: %.300s", body)
		}
	}
}

// TestAcrossReplicasHeld: each replica gives at most its first MaxLimit
// rows; a view across replicas ends where the first replica that had
// more runs out (later rows may miss some of its own), says so, and
// pages no further — it paged on to empty pages up to the summed total.
func TestAcrossReplicasHeld(t *testing.T) {
	probes := fleet(1200) // both replicas probe as many, MaxLimit given each
	b := httptest.NewServer(mustHandler(t, &Site{Probes: probes, Replicas: &Replicas{Self: "pe-b"}}))
	defer b.Close()
	self := &Replicas{Self: "pe-a", Source: fixedReplicas{{Name: "pe-b", URL: b.URL + "/"}},
		Asker: &replicas.Asker{Client: &http.Client{}, Max: 10, Timeout: 10 * time.Second, MaxBody: 4 << 20}}
	h := mustHandler(t, &Site{Probes: probes, Replicas: self})

	// In order, pe-a's and pe-b's rows alternate: pe-a's 1,000th (its
	// last given) is row 1,999; the view holds 1,999 rows of 2,400.
	for _, c := range []struct {
		offset, rows int
		next         bool
	}{{0, 1000, true}, {1000, 999, false}, {2000, 0, false}} {
		_, _, body := get(t, h, fmt.Sprintf("/api/v1/targets?scope=all&limit=1000&offset=%d", c.offset))
		var res apiResponse
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != c.rows || res.Total != 2400 || len(res.Warnings) != 1 ||
			!strings.Contains(res.Warnings[0], "holds the first 1999 of the 2400 matching rows") {
			t.Errorf("offset %d: %d rows of %d, warnings %q; want %d rows of 2400 and why", c.offset, len(res.Data), res.Total, res.Warnings, c.rows)
		}
		_, _, page := get(t, h, fmt.Sprintf("/targets?scope=all&limit=1000&offset=%d", c.offset))
		if strings.Contains(page, `id="next"`) != c.next || !strings.Contains(page, `<p id="partial" class="muted">this view across replicas holds the first 1999`) {
			t.Errorf("the page at offset %d: next link %v (want %v), or no word of the rows held", c.offset, strings.Contains(page, `id="next"`), c.next)
		}
	}
	// Filtered to what each gives whole, the view holds every row.
	_, _, body := get(t, h, "/api/v1/targets?scope=all&state=failure")
	var res apiResponse
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 240 || len(res.Data) != 100 || len(res.Warnings) != 0 {
		t.Errorf("failing rows: %d of %d, warnings %q; want the first 100 of 240 and no warning", len(res.Data), res.Total, res.Warnings)
	}
}

// countingSource lists replicas, counting the listings; stall makes a
// listing wait for its context (an API server that does not answer).
type countingSource struct {
	replicas []replicas.Replica
	stall    bool
	mu       sync.Mutex
	listings int
}

func (c *countingSource) Replicas(ctx context.Context) ([]replicas.Replica, error) {
	c.mu.Lock()
	c.listings++
	c.mu.Unlock()
	if c.stall {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return c.replicas, nil
}

// TestAcrossReplicasListing: a view across replicas lists them once (the
// page asks for rows and mesh rows at once: it listed twice), within the
// replicas' timeout (a stalled API server held the view as long as its
// client waited), and names the replicas beyond --web.replicas.max as
// not asked (they were left out silently).
func TestAcrossReplicasListing(t *testing.T) {
	peer := func(name string) *httptest.Server {
		return httptest.NewServer(mustHandler(t, &Site{Probes: statusFixture(), Replicas: &Replicas{Self: name}}))
	}
	b, c := peer("pe-b"), peer("pe-c")
	defer b.Close()
	defer c.Close()
	src := &countingSource{replicas: []replicas.Replica{{Name: "pe-b", URL: b.URL + "/"}, {Name: "pe-c", URL: c.URL + "/"}}}
	self := &Replicas{Self: "pe-a", Source: src, Asker: &replicas.Asker{Client: &http.Client{}, Max: 1, Timeout: 300 * time.Millisecond, MaxBody: 1 << 20}}
	h := mustHandler(t, &Site{Probes: statusFixture(), Replicas: self})

	_, _, page := get(t, h, "/targets?scope=all")
	if src.listings != 1 {
		t.Errorf("the page listed the replicas %d times, want once", src.listings)
	}
	for _, w := range []string{`data-observer="pe-b"`, `not answering: pe-c (not asked: more than 1 replicas (--web.replicas.max))`} {
		if !strings.Contains(page, w) {
			t.Errorf("the page lacks %q", w)
		}
	}

	src.stall = true
	start := time.Now()
	// The client waits 5 s at most: a listing without a bound of its own
	// would hold the view that long.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/targets?scope=all", nil).WithContext(ctx))
	body := rec.Body.String()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a stalled listing held the view %v, timeout 300ms", took)
	}
	var res apiResponse
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Replicas) != 2 || res.Replicas[1].Name != "(replicas)" || !strings.Contains(res.Replicas[1].Error, "deadline exceeded") || res.Total != 3 {
		t.Errorf("with the listing stalled: replicas %+v, total %d; want this one's rows and the listing's error", res.Replicas, res.Total)
	}
}
