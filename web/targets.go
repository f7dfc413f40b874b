package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probe-exporter/probe-exporter/status"
	"github.com/prometheus/exporter-toolkit/web"
)

//go:embed templates/targets.html
var templates embed.FS

var targetsTemplate = template.Must(template.New("targets.html").Funcs(template.FuncMap{
	"seconds":   func(s float64) string { return roundDuration(seconds(s)) },
	"sparkline": sparkline,
	"until":     func(t *time.Time) string { return roundDuration(time.Until(*t)) },
	"percent":   func(f *float64) string { return strconv.FormatFloat(*f*100, 'f', 0, 64) + " %" },
	"since":     func(t time.Time) string { return roundDuration(time.Since(t)) },
	// saysMore: an output worth showing beside its reason (the reason
	// is the output without its trailing newline, when it failed).
	"saysMore": func(output, reason string) bool {
		return strings.TrimRight(output, " \t\r\n") != reason && output != ""
	},
}).ParseFS(templates, "templates/targets.html"))

// roundDuration is d as people read it on a status page: µs under a
// millisecond (a probe of a nearby port takes tens), tenths of ms under a
// second, whole seconds above.
func roundDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Second).String()
}

// statusViews bounds the status views built at once: each walks every
// probe and, at 100k probes, holds a few MB (tens across replicas).
const statusViews = 2

// viewWriteTimeout bounds the writing of a built view to its client.
const viewWriteTimeout = 30 * time.Second

// limit lets n views be built at once: the others wait for a slot while
// their client does, so that a flood of requests queues instead of
// piling up memory. A view is built into memory holding a slot, which is
// given back before the answer is written, under its own deadline: a
// client that doesn't read (a zero HTTP/2 window, a full TCP buffer)
// costs only its own request, never a slot others wait for. A view
// waiting on other replicas gives its slot back meanwhile (outsideSlot).
func limit(n int) func(http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			built := &recorder{header: http.Header{}, body: &bytes.Buffer{}}
			slot := &viewSlot{slots: slots}
			if !slot.take(r.Context()) {
				http.Error(w, "the status views are busy", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(built, r.WithContext(context.WithValue(r.Context(), viewSlotKey{}, slot)))
			slot.giveBack()
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(viewWriteTimeout))
			for k, v := range built.header {
				w.Header()[k] = v
			}
			if built.status != 0 {
				w.WriteHeader(built.status)
			}
			_, _ = w.Write(built.body.Bytes())
		})
	}
}

// viewSlot is one view's hold on a slot of limit's. Only the view's own
// handler goroutine takes and gives it back.
type viewSlot struct {
	slots chan struct{}
	held  bool
}

type viewSlotKey struct{}

// take waits for a slot while ctx lasts.
func (v *viewSlot) take(ctx context.Context) bool {
	select {
	case v.slots <- struct{}{}:
		v.held = true
	case <-ctx.Done():
	}
	return v.held
}

func (v *viewSlot) giveBack() {
	if v.held {
		<-v.slots
		v.held = false
	}
}

// outsideSlot runs wait — asking other replicas — without the view's
// slot, and takes one again after: a view held its slot while it waited
// up to the replicas' timeout, and two replicas each building views
// across replicas with every slot taken waited on each other. It reports
// whether the view holds a slot again (false: its client left).
func outsideSlot(ctx context.Context, wait func()) bool {
	slot, _ := ctx.Value(viewSlotKey{}).(*viewSlot)
	if slot == nil || !slot.held {
		wait()
		return ctx.Err() == nil
	}
	slot.giveBack()
	wait()
	return slot.take(ctx)
}

// apiResponse is /api/v1/targets' body, shaped as Prometheus' HTTP API.
type apiResponse struct {
	Status string       `json:"status"`
	Data   []status.Row `json:"data"`
	Total  int          `json:"total"`
	// Counts are the matching probes by state, all pages.
	Counts status.Counts `json:"counts"`
	Offset int           `json:"offset"`
	Limit  int           `json:"limit"`
	Error  string        `json:"error,omitempty"`
	// Warnings, as Prometheus' API has them: a failed configuration
	// reload (the previous configuration is what these rows come from).
	Warnings []string `json:"warnings,omitempty"`
	// Replica is the replica that answered (its pod's name), when it
	// knows; Replicas, in a view across replicas (scope=all), which of
	// them answered.
	Replica  string          `json:"replica,omitempty"`
	Replicas []ReplicaAnswer `json:"replicas,omitempty"`
}

// knownEntry reports whether name is an entry of the running
// configuration (or, without one, an entry with probes).
func (s *Site) knownEntry(p status.Page, name string) bool {
	entries := p.Entries
	if s.Entries != nil {
		entries = s.Entries()
	}
	return slices.Contains(entries, name)
}

// targetsPage is the status page, /targets, and its JSON API,
// /api/v1/targets and /api/v1/targets/{target}.
type targetsPage struct{}

func (targetsPage) Link() web.LandingLinks {
	return web.LandingLinks{Address: "/targets", Text: "Targets"}
}

func (targetsPage) Routes(mux *http.ServeMux, s *Site) {
	mux.Handle("GET /targets", s.View(targetsHTML(s)))
	mux.Handle("GET /api/v1/targets", s.View(targetsAPI(s)))
	mux.Handle("GET /api/v1/targets/{target}", s.View(targetsAPI(s)))
}

// targetsAPI serves /api/v1/targets and /api/v1/targets/{target}.
func targetsAPI(s *Site) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q, err := status.ParseQuery(r.URL.Query())
		name := r.PathValue("target")
		if name != "" {
			q.Target = name
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(apiResponse{Status: "error", Error: err.Error(), Data: []status.Row{}})
			return
		}
		var p status.Page
		var answers []ReplicaAnswer
		var warnings []string
		if s.allScope(r.URL.Query()) {
			peers, ok := s.askAcross(r.Context(), r.URL.Query(), q, true, false)
			if !ok {
				return // the client left
			}
			var held int
			p, answers, held = s.mergeTargets(q, peers.targets)
			if held < p.Total {
				warnings = append(warnings, heldWarning(held, p.Total))
			}
		} else {
			p = status.Read(s.Probes, q)
		}
		if name != "" && !s.knownEntry(p, name) {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(apiResponse{Status: "error", Error: fmt.Sprintf("no entry named %q in the running configuration", name), Data: []status.Row{}})
			return
		}
		res := apiResponse{Status: "success", Data: p.Rows, Total: p.Total, Counts: p.Counts, Offset: q.Offset, Limit: limitOf(q), Replicas: answers, Warnings: warnings}
		if s.Replicas != nil {
			res.Replica = s.Replicas.Self
		}
		if msg, err := s.reloadFailure(); msg != "" {
			res.Warnings = append(res.Warnings, msg+": "+err.Error())
		}
		_ = json.NewEncoder(w).Encode(res)
	}
}

func limitOf(q status.Query) int {
	if q.Limit <= 0 {
		return status.DefaultLimit
	}
	return min(q.Limit, status.MaxLimit)
}

// pageData is what targets.html renders.
type pageData struct {
	Root          string
	Query         status.Query
	Label         string
	Page          status.Page
	States, Kinds []string
	Error         string
	// JSON, Prev and Next are links: this view as JSON, the neighbouring
	// pages. Each is "?" and a query url.Values encoded, so it is a URL
	// as it stands (html/template would escape a bare query's = and &).
	JSON, Prev, Next template.URL
	// ReloadFailed says a failed last reload, ReloadError its errors.
	ReloadFailed, ReloadError string
	Limit                     int
	First, Last               int
	// Mesh, in mesh mode: rows are source nodes, columns nodes.
	Mesh meshMatrix
	// Rendered is when the page was built; Refresh how often it renders
	// itself again, in seconds (0: never), and Refreshes the choices.
	Rendered  time.Time
	Refresh   int
	Refreshes []int
	// Replicated: the site can answer for every replica; All: this view
	// does (scope=all), and Answers says which replicas answered.
	Replicated, All bool
	Answers         []ReplicaAnswer
	// Held is how many matching rows in order the view holds (all of
	// them, but across replicas: see mergeTargets); Partial says so when
	// it is fewer than match.
	Held    int
	Partial string
}

// heldWarning says that a view across replicas holds only the first held
// of total matching rows.
func heldWarning(held, total int) string {
	return fmt.Sprintf("this view across replicas holds the first %d of the %d matching rows, in order: each replica gives at most its first %d; narrow the filters to see the others",
		held, total, status.MaxLimit)
}

// Silent are the replicas that did not answer.
func (d pageData) Silent() []ReplicaAnswer {
	var out []ReplicaAnswer
	for _, a := range d.Answers {
		if !a.Answered {
			out = append(out, a)
		}
	}
	return out
}

// refreshes are the page's refresh choices, in seconds (0: off), and
// the default.
var (
	refreshes      = []int{0, 5, 10, 30, 60, 300}
	defaultRefresh = 30
)

// refreshOf is the refresh= parameter when it is one of the choices,
// else the default.
func refreshOf(v string) int {
	if n, err := strconv.Atoi(v); err == nil && slices.Contains(refreshes, n) {
		return n
	}
	return defaultRefresh
}

// targetsHTML serves /targets: server-rendered, no JavaScript.
func targetsHTML(s *Site) http.HandlerFunc {
	src := s.Probes
	return func(w http.ResponseWriter, r *http.Request) {
		values := r.URL.Query()
		q, err := status.ParseQuery(values)
		d := pageData{Root: "./", Query: q, Label: values.Get("label"),
			States: []string{"", "failure", "unknown", "success"}, Kinds: []string{"", "readiness", "liveness", "startup"},
			Rendered: time.Now().UTC(), Refresh: refreshOf(values.Get("refresh")), Refreshes: refreshes}
		code := http.StatusOK
		if err != nil {
			d.Error, code = err.Error(), http.StatusBadRequest
			q = status.Query{}
		}
		d.Replicated, d.All = s.Replicas != nil, s.allScope(values)
		if d.All {
			peers, ok := s.askAcross(r.Context(), values, q, true, true)
			if !ok {
				return // the client left
			}
			d.Page, d.Answers, d.Held = s.mergeTargets(q, peers.targets)
			reach, _ := s.mergeMesh(peers.mesh)
			d.Mesh = matrix(reach)
		} else {
			d.Page = status.Read(src, q)
			d.Mesh = matrix(status.Mesh(src))
			d.Held = d.Page.Total
		}
		d.Limit = limitOf(q)
		d.JSON = query(values)
		if n := len(d.Page.Rows); n > 0 {
			d.First, d.Last = q.Offset+1, q.Offset+n
		}
		if q.Offset > 0 {
			d.Prev = withOffset(values, max(0, q.Offset-d.Limit))
		}
		if held := min(d.Held, d.Page.Total); held < d.Page.Total {
			d.Partial = heldWarning(held, d.Page.Total)
		}
		if q.Offset+d.Limit < min(d.Held, d.Page.Total) {
			d.Next = withOffset(values, q.Offset+d.Limit)
		}
		if msg, err := s.reloadFailure(); msg != "" {
			d.ReloadFailed, d.ReloadError = msg, err.Error()
		}
		if s.Entries != nil {
			d.Page.Entries = mergeSorted(d.Page.Entries, s.Entries())
		}
		// Rendered to memory first: a template error is a 500, not half a
		// page.
		var buf bytes.Buffer
		if err := targetsTemplate.Execute(&buf, d); err != nil {
			http.Error(w, fmt.Sprintf("rendering the page: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write(buf.Bytes())
	}
}

// query is v as a link's URL: "?" and v encoded ("" for none: this page).
func query(v url.Values) template.URL {
	if len(v) == 0 {
		return ""
	}
	// url.Values.Encode escapes every name and value: the result is a
	// safe URL, trusted as one.
	return template.URL("?" + v.Encode())
}

func withOffset(v url.Values, offset int) template.URL {
	c := url.Values{}
	for k, vs := range v {
		c[k] = vs
	}
	c.Set("offset", strconv.Itoa(offset))
	return query(c)
}

// mergeSorted is the sorted union of a and b.
func mergeSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// recorder is the http.ResponseWriter a view is built into.
type recorder struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
