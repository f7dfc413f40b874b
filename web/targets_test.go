package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
	"github.com/probe-exporter/probe-exporter/status"
)

type probes = state.Fixed

func statusFixture() probes {
	names := series.NewNames([]string{"target", "kind", "address", "zone"})
	at := time.Now().Add(-time.Minute)
	failing := state.Record{Machine: state.NewMachine(probe.Readiness, 1, 1, at)}
	failing.Apply(prober.Outcome{Result: prober.Failure, StatusCode: 500, Reason: prober.HTTPStatus, Output: `HTTP probe failed with statuscode: 500 <script>alert("x")</script>`}, 3*time.Millisecond, at)
	passing := state.Record{Machine: state.NewMachine(probe.Liveness, 1, 1, at)}
	passing.Apply(prober.Outcome{Result: prober.Success}, time.Millisecond, at)
	started := state.Record{Machine: state.NewMachine(probe.Startup, 1, 30, at)}
	started.Apply(prober.Outcome{Result: prober.Success}, time.Millisecond, at)
	return probes{
		{Key: "a", Kind: probe.Liveness, Entry: "web", SuccessThreshold: 1, FailureThreshold: 1,
			Definition: &probe.Probe{HTTPGet: &probe.HTTPGetAction{Path: "/healthz", Port: probe.IntOrString{IntVal: 8080}, Scheme: "HTTPS",
				HTTPHeaders: []probe.HTTPHeader{{Name: "Authorization", Value: "Bearer s3cr3t"}}}, PeriodSeconds: 5, TimeoutSeconds: 2, SuccessThreshold: 1, FailureThreshold: 1},
			Labels: series.New(names, []string{"web", "liveness", "10.0.0.1:80", "a"}), Record: passing, Next: time.Now().Add(5 * time.Second)},
		{Key: "b", Kind: probe.Readiness, Entry: "api", SuccessThreshold: 1, FailureThreshold: 1,
			Definition: &probe.Probe{TCPSocket: &probe.TCPSocketAction{Port: probe.IntOrString{IsString: true, StrVal: "db"}}, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1},
			Labels:     series.New(names, []string{"api", "readiness", "10.0.0.2:80", "b"}), Record: failing},
		{Key: "a", Kind: probe.Startup, Entry: "web", SuccessThreshold: 1, FailureThreshold: 30,
			Definition: &probe.Probe{TCPSocket: &probe.TCPSocketAction{}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 30},
			Labels:     series.New(names, []string{"web", "startup", "10.0.0.1:80", "a"}), Record: started},
	}
}

func get(t *testing.T, h http.Handler, url string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

func TestTargetsAPI(t *testing.T) {
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture(),
		Entries: func() []string { return []string{"api", "idle", "web"} }}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url     string
		code    int
		targets []string
	}{
		{"/api/v1/targets", 200, []string{"api", "web", "web"}}, // failing first
		{"/api/v1/targets?state=success", 200, []string{"web", "web"}},
		{"/api/v1/targets?kind=readiness", 200, []string{"api"}},
		{"/api/v1/targets?label=zone%3Da", 200, []string{"web", "web"}},
		{"/api/v1/targets/web", 200, []string{"web", "web"}},
		{"/api/v1/targets/idle", 200, nil},    // configured, no targets now
		{"/api/v1/targets/nothing", 404, nil}, // not configured
		{"/api/v1/targets?state=down", 400, nil},
	} {
		code, ctype, body := get(t, h, c.url)
		var res struct {
			Status string `json:"status"`
			Data   []struct {
				Target, Reason, State string
			} `json:"data"`
			Total int    `json:"total"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil || code != c.code || ctype != "application/json" {
			t.Errorf("%s: %d %s %v\n%s", c.url, code, ctype, err, body)
			continue
		}
		var got []string
		for _, d := range res.Data {
			got = append(got, d.Target)
		}
		if strings.Join(got, ",") != strings.Join(c.targets, ",") || res.Total != len(c.targets) {
			t.Errorf("%s: %v (total %d), want %v", c.url, got, res.Total, c.targets)
		}
		if c.code >= 400 && (res.Status != "error" || res.Error == "") {
			t.Errorf("%s: %s", c.url, body)
		}
		if c.url == "/api/v1/targets" && (!strings.HasPrefix(res.Data[0].Reason, "HTTP probe failed with statuscode: 500") || res.Data[0].State != "failure") {
			t.Errorf("the failing row: %+v", res.Data[0])
		}
	}
}

// TestTargetsAPIDefinition: each row says what is run — the handler and
// its parameters as written, header names but never their values — and
// a startup probe that succeeded says it is done.
func TestTargetsAPIDefinition(t *testing.T) {
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture()}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := get(t, h, "/api/v1/targets/web?kind=liveness")
	if strings.Contains(body, "s3cr3t") {
		t.Errorf("a header value is shown: %s", body)
	}
	var res struct {
		Data []status.Row `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Data) != 1 {
		t.Fatalf("%v: %s", err, body)
	}
	want := status.Definition{Handler: "httpGet", Scheme: "HTTPS", Path: "/healthz", Port: "8080", Headers: []string{"Authorization"},
		PeriodSeconds: 5, TimeoutSeconds: 2, SuccessThreshold: 1, FailureThreshold: 1}
	if got := res.Data[0].Probe; !reflect.DeepEqual(got, want) || res.Data[0].Done {
		t.Errorf("probe %+v (done %v), want %+v", got, res.Data[0].Done, want)
	}
	_, _, body = get(t, h, "/api/v1/targets/web?kind=startup")
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Data) != 1 || !res.Data[0].Done || res.Data[0].NextProbe != nil {
		t.Errorf("a startup probe that succeeded is not done: %s", body)
	}
}

// TestReloadFailureShown: a failed reload is said on the status page and
// as a warning in the API, with its errors; none after a good one.
func TestReloadFailureShown(t *testing.T) {
	var failed error = errors.New(`config.yaml:3:5: targets[0].name: Invalid value: "a b"`)
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture(),
		LastReload: func() (time.Time, error) { return time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), failed }}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, page := get(t, h, "/targets")
	_, _, api := get(t, h, "/api/v1/targets")
	said := "the configuration reload at 2026-12-03T12:00:00Z failed; the previous configuration is still running"
	if !strings.Contains(page, `id="reload-failed"`) || !strings.Contains(page, said) || !strings.Contains(page, "targets[0].name: Invalid value: &#34;a b&#34;") {
		t.Errorf("the page doesn't say the reload failed:\n%s", page)
	}
	if !strings.Contains(api, `"warnings":["`+said+`: config.yaml:3:5`) {
		t.Errorf("the API doesn't warn: %s", api)
	}
	failed = nil
	_, _, page = get(t, h, "/targets")
	_, _, api = get(t, h, "/api/v1/targets")
	if strings.Contains(page, `id="reload-failed"`) || strings.Contains(api, "warnings") {
		t.Error("a failure said after a good reload")
	}
}

func TestTargetsPage(t *testing.T) {
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture()}})
	if err != nil {
		t.Fatal(err)
	}
	code, ctype, body := get(t, h, "/targets")
	if code != 200 || ctype != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", code, ctype)
	}
	for _, want := range []string{
		`data-target="api" data-address="10.0.0.2:80" data-kind="readiness" data-state="failure"`,
		"HTTP probe failed with statuscode: 500",
		`<code class="class">http_status</code>`,          // the reason's class beside its text
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, // output escaped
		`1 failure <span class="muted">(threshold 1)</span>`, "zone=a", "in 5s", "1m0s",
		`<a href="./api/v1/targets" id="json">as JSON</a>`,
		"httpGet HTTPS :8080/healthz (headers Authorization)", "every 5s, timeout 2s", "tcpSocket :db",
		`<span class="state-success">done</span> <span class="muted">(succeeded; not probed again)</span>`, "none: done",
		// The duration, and its recent ones drawn (sparkline_test.go).
		`<td class="duration">3ms</td>`, `title="failure"></span><svg class="spark" role="img"`, `<title>last 1 attempt: 3ms to 3ms</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "s3cr3t") {
		t.Error("output rendered unescaped, or a header value shown")
	}
	if strings.Index(body, `data-target="api"`) > strings.Index(body, `data-target="web"`) {
		t.Error("the failing target is not first")
	}
	// Filters are plain query parameters: the form works without JavaScript.
	_, _, body = get(t, h, "/targets?state=success")
	if strings.Contains(body, `data-target="api"`) || !strings.Contains(body, `data-target="web"`) || !strings.Contains(body, `<option value="success" selected>`) {
		t.Error("state filter")
	}
	code, _, body = get(t, h, "/targets?kind=ready")
	if code != 400 || !strings.Contains(body, `kind: &#34;ready&#34; is not readiness, liveness or startup`) {
		t.Errorf("a bad filter: %d", code)
	}
	// Paging.
	_, _, body = get(t, h, "/targets?limit=1")
	if !strings.Contains(body, `id="next"`) || strings.Contains(body, `id="prev"`) || !strings.Contains(body, "rows 1–1 of 3") {
		t.Error("first page of one")
	}
	_, _, body = get(t, h, "/targets?limit=1&offset=2")
	if strings.Contains(body, `id="next"`) || !strings.Contains(body, `id="prev"`) {
		t.Error("last page of one")
	}
	// The links keep the filter as a query, not one escaped string (the
	// browser test clicks them).
	_, _, body = get(t, h, "/targets?target=web&limit=1")
	for _, want := range []string{`href="?limit=1&amp;offset=1&amp;target=web" id="next"`, `href="./api/v1/targets?limit=1&amp;target=web" id="json"`} {
		if !strings.Contains(body, want) {
			t.Errorf("a filtered page lacks the link %s", want)
		}
	}
	// Linked from the landing page.
	if _, _, body = get(t, h, "/"); !strings.Contains(body, `href="/targets"`) {
		t.Error("the landing page does not link /targets")
	}
}

// blocking is a Source whose Each waits for release, counting how many
// wait at once.
type blocking struct {
	release chan struct{}
	mu      sync.Mutex
	now     int
	most    int
}

func (b *blocking) Each(func(*state.View)) {
	b.mu.Lock()
	b.now++
	b.most = max(b.most, b.now)
	b.mu.Unlock()
	<-b.release
	b.mu.Lock()
	b.now--
	b.mu.Unlock()
}

func (b *blocking) Targets() map[string]int { return nil }
func (b *blocking) Probing(string) bool     { return false }

// TestStatusViewsBounded: a flood of status requests builds at most
// statusViews views at once; the rest wait, and one whose client gives up
// leaves.
func TestStatusViewsBounded(t *testing.T) {
	src := &blocking{release: make(chan struct{})}
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: src}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(t, h, []string{"/targets", "/api/v1/targets", "/api/v1/mesh"}[i%3])
		}()
	}
	await.True(t, "the views to fill their slots", func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.now == statusViews
	})
	// A client that gives up while waiting is answered 503 and leaves.
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/targets", nil).WithContext(ctx))
		close(done)
	}()
	cancel()
	<-done
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a request given up while waiting: %d", rec.Code)
	}
	close(src.release)
	wg.Wait()
	if src.most > statusViews {
		t.Errorf("%d views at once, bound %d", src.most, statusViews)
	}
}

// stalledClient is a response whose client doesn't read: a write blocks
// until its deadline passes or the test lets it go.
type stalledClient struct {
	header   http.Header
	deadline chan time.Time
	release  chan struct{}
}

func (s *stalledClient) Header() http.Header { return s.header }
func (s *stalledClient) WriteHeader(int)     {}
func (s *stalledClient) Write(p []byte) (int, error) {
	<-s.release
	return len(p), nil
}

// SetWriteDeadline is what http.ResponseController calls.
func (s *stalledClient) SetWriteDeadline(d time.Time) error {
	s.deadline <- d
	return nil
}

// TestStalledClientKeepsNoViewSlot: a client that doesn't read its
// status view holds no slot: with one slot, another request's view is
// built and answered while the stalled one is still being written, and
// the stalled write runs under a deadline (it held the slot until the
// server's 2-minute write timeout; two such clients blocked /targets and
// /api/v1/targets for everyone).
func TestStalledClientKeepsNoViewSlot(t *testing.T) {
	h := limit(1)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	stalled := &stalledClient{header: http.Header{}, deadline: make(chan time.Time, 1), release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(stalled, httptest.NewRequest(http.MethodGet, "/api/v1/targets", nil))
	}()
	select {
	case d := <-stalled.deadline:
		if until := time.Until(d); until <= 0 || until > viewWriteTimeout {
			t.Errorf("write deadline in %v", until)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled write has no deadline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/targets", nil).WithContext(ctx))
	if rec.Code != http.StatusOK || rec.Body.Len() != 1<<20 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("beside a stalled client: %d, %d bytes, %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
	}
	close(stalled.release)
	<-done
}

// TestMeshMatrixPage: in the mesh matrix, a pair's isolation checks
// (expect: unreachable) show apart from its probes, as "blocked n/m".
func TestMeshMatrixPage(t *testing.T) {
	mesh := series.NewNames([]string{"target", "kind", "address", "expect", "node", "source_node"})
	at := time.Now().Add(-time.Minute)
	view := func(entry, address, expect, node string, pass bool) state.View {
		r := state.Record{Machine: state.NewMachine(probe.Readiness, 1, 1, at)}
		o := prober.Outcome{Result: prober.Success}
		if !pass {
			o = prober.Outcome{Result: prober.Failure, Reason: prober.Reached}
		}
		r.Apply(o, time.Millisecond, at)
		return state.View{Key: entry + address, Kind: probe.Readiness, Entry: entry, SuccessThreshold: 1, FailureThreshold: 1,
			Labels: series.New(mesh, []string{entry, "readiness", address, expect, node, "a"}), Record: r}
	}
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: probes{
		view("mesh", "10.0.2.1:80", "", "b", true),
		view("deny", "10.0.2.1:5432", "unreachable", "b", true),  // holds
		view("deny", "10.0.3.1:5432", "unreachable", "c", false), // reached
	}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := get(t, h, "/targets")
	for _, want := range []string{
		`1/1<br><span class="state-blocked" title="isolation checks (expect: unreachable) that hold">blocked 1/1</span>`,
		`<td class="state-failure"><span class="state-failure" title="isolation checks (expect: unreachable) that hold">blocked 0/1</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the matrix lacks %q", want)
		}
	}
	_, _, api := get(t, h, "/api/v1/mesh")
	if !strings.Contains(api, `{"sourceNode":"a","node":"c","passing":0,"total":0,"blocked":0,"blockedTotal":1}`) {
		t.Errorf("/api/v1/mesh: %s", api)
	}
}

// TestTargetsSummary: the page's head counts the matching probes by state
// (all pages) and by entry, says when it was rendered, shows each row's
// uptime over its kept results, and refreshes itself: a noscript meta
// refresh without JavaScript, a fetch that swaps the changing parts with
// it, every 30 s unless ?refresh= picks another of its choices (0: off).
func TestTargetsSummary(t *testing.T) {
	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture()}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, page := get(t, h, "/targets")
	for _, want := range []string{
		`<span class="count state-failure">1 failing</span><span class="count state-unknown">0 unknown</span><span class="count state-success">2 passing</span>`,
		`<details id="by-entry">`, `<tr><td>api</td><td class="state-failure">1</td>`, `<tr><td>web</td><td class="muted">0</td><td class="muted">0</td><td class="state-success">2</td>`,
		`rendered <time datetime="`, "again every 30s",
		`<td class="uptime">100 % <span class="muted">of 1</span></td>`, `<td class="uptime">0 % <span class="muted">of 1</span></td>`,
		`<noscript><meta http-equiv="refresh" content="30"></noscript>`, `},  30  * 1000);`, // html/template pads a number in a script
		`<option value="30" selected>every 30s</option>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for q, want := range map[string]string{"?refresh=10": `content="10"`, "?refresh=7": `content="30"`, "?refresh=lots": `content="30"`} {
		if _, _, p := get(t, h, "/targets"+q); !strings.Contains(p, want) {
			t.Errorf("%s: no %s", q, want)
		}
	}
	if _, _, p := get(t, h, "/targets?refresh=0"); strings.Contains(p, "http-equiv") || strings.Contains(p, "setInterval") || !strings.Contains(p, `<option value="0" selected>off</option>`) {
		t.Error("refresh=0 still refreshes")
	}
	// Filtered: the counts are the filter's.
	if _, _, p := get(t, h, "/targets?state=failure"); !strings.Contains(p, `1 failing</span><span class="count state-unknown">0 unknown</span><span class="count state-success">0 passing`) {
		t.Error("the counts of a filtered view are not its own")
	}
	_, _, api := get(t, h, "/api/v1/targets")
	if !strings.Contains(api, `"counts":{"failure":1,"unknown":0,"success":2}`) || !strings.Contains(api, `"uptime":1`) || !strings.Contains(api, `"uptime":0`) {
		t.Errorf("the API lacks counts or uptime: %s", api)
	}
}

// TestTargetsPageBound: a first page stays under 1 MB as HTML and as
// JSON with every row at its largest — a pod's labels, a full history
// with durations, a reason — whatever the number of probes (their time
// is BenchmarkTargetsPage's).
func TestTargetsPageBound(t *testing.T) {
	t.Parallel()
	h := mustHandler(t, &Site{Probes: fleet(1000)})
	for _, path := range []string{"/targets", "/api/v1/targets"} {
		code, _, body := get(t, h, path)
		if rows := max(strings.Count(body, `<tr class="row`), strings.Count(body, `"target":`)); code != 200 || len(body) > 1<<20 || rows != 100 {
			t.Errorf("%s: %d, %d bytes, %d rows", path, code, len(body), rows)
		}
		if path == "/targets" && strings.Count(body, `<svg class="spark"`) != 100 {
			t.Errorf("%d sparklines on the page of 100 rows", strings.Count(body, `<svg class="spark"`))
		}
	}
}
