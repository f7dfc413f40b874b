// Package status is the per-probe view people read instead of PromQL:
// one row per (target, kind) with its thresholded state, counts against
// the thresholds, last result and reason, recent history and timing,
// filtered, sorted and paged on the server so that a page stays small
// and fast at 100k targets. The /targets page and /api/v1/targets render
// it (package web).
package status

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// Row is one probe. Its JSON is the documented schema of
// /api/v1/targets (README).
type Row struct {
	Target  string            `json:"target"`
	Kind    string            `json:"kind"`
	Address string            `json:"address"`
	Labels  map[string]string `json:"labels"`
	// State is the thresholded state, as probe_state: success, failure,
	// unknown.
	State                string `json:"state"`
	ConsecutiveSuccesses int32  `json:"consecutiveSuccesses"`
	ConsecutiveFailures  int32  `json:"consecutiveFailures"`
	SuccessThreshold     int32  `json:"successThreshold"`
	FailureThreshold     int32  `json:"failureThreshold"`
	// LastResult is the last tick's result: success, failure, error, or
	// "" before the first.
	LastResult string `json:"lastResult"`
	// Reason is the last attempt's, worded as the kubelet's events word
	// it; empty after a success. Output is what it returned (a body,
	// command output), capped.
	Reason string `json:"reason"`
	// ReasonClass is the reason's class, probe_failure_reason's label
	// (connection_refused, http_status, ...); empty after a success.
	ReasonClass         string  `json:"reasonClass"`
	Output              string  `json:"output"`
	LastDurationSeconds float64 `json:"lastDurationSeconds"`
	// History is the recent results (success, failure, error), newest
	// last; HistoryDurationsSeconds how long each took, to within 12.3 %
	// but the newest (lastDurationSeconds): the latency sparkline's data.
	History                 []string  `json:"history"`
	HistoryDurationsSeconds []float64 `json:"historyDurationsSeconds"`
	// LastTransition is when State last changed (or the target appeared);
	// NextProbe when it runs next, null while it runs or is done.
	LastTransition time.Time  `json:"lastTransition"`
	NextProbe      *time.Time `json:"nextProbe"`
	Transitions    uint64     `json:"transitions"`
	// Done: the probe needs no more runs (a startup probe that
	// succeeded, as in the kubelet).
	Done bool `json:"done"`
	// Probe is what is run: the probe as written, with the kubelet's
	// defaults applied.
	Probe Definition `json:"probe"`
	// Uptime is the share of the kept recent results (History) that
	// succeeded, 0 to 1; null before the first.
	Uptime *float64 `json:"uptime"`
	// Observer is the replica that probed it (its pod's name), in a view
	// across replicas (scope=all); empty in one replica's own view.
	Observer string `json:"observer,omitempty"`
}

// StateRank orders a row's state: failing first, then unknown, then
// passing.
func StateRank(state string) int {
	switch state {
	case "failure":
		return 0
	case "success":
		return 2
	}
	return 1
}

// Definition is a probe's handler and parameters, as written in the
// configuration or the pod spec. Header values are left out: they are
// where credentials go (Authorization).
type Definition struct {
	// Handler is httpGet, tcpSocket, grpc or exec.
	Handler string `json:"handler"`
	Scheme  string `json:"scheme,omitempty"`
	Host    string `json:"host,omitempty"`
	Path    string `json:"path,omitempty"`
	// Port as written: a number, a name, or empty (the target's port).
	Port string `json:"port,omitempty"`
	// Headers are the names of the request's own headers.
	Headers []string `json:"headers,omitempty"`
	// Service is the gRPC health service asked about ("" is the server's
	// overall health).
	Service *string  `json:"service,omitempty"`
	Command []string `json:"command,omitempty"`

	InitialDelaySeconds int32 `json:"initialDelaySeconds"`
	PeriodSeconds       int32 `json:"periodSeconds"`
	TimeoutSeconds      int32 `json:"timeoutSeconds"`
	SuccessThreshold    int32 `json:"successThreshold"`
	FailureThreshold    int32 `json:"failureThreshold"`
}

// definition describes p (nil: an empty Definition).
func definition(p *probe.Probe) Definition {
	if p == nil {
		return Definition{}
	}
	d := Definition{InitialDelaySeconds: p.InitialDelaySeconds, PeriodSeconds: p.PeriodSeconds,
		TimeoutSeconds: p.TimeoutSeconds, SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
	port := func(p probe.IntOrString) string {
		switch {
		case p.IsString:
			return p.StrVal
		case p.IntVal != 0:
			return strconv.Itoa(int(p.IntVal))
		}
		return ""
	}
	h := p.Handler()
	if h == nil {
		return d
	}
	d.Handler, d.Port = h.Field(), port(probe.Port(h))
	switch h := h.(type) {
	case *probe.HTTPGetAction:
		d.Scheme, d.Host, d.Path = h.Scheme, h.Host, h.Path
		for _, hd := range h.HTTPHeaders {
			d.Headers = append(d.Headers, hd.Name)
		}
	case *probe.TCPSocketAction:
		d.Host = h.Host
	case *probe.GRPCAction:
		d.Service = h.Service
	case *probe.ExecAction:
		d.Command = h.Command
	}
	return d
}

// Summary is the definition in one line, as people read it:
// "httpGet HTTP :8080/healthz", "tcpSocket :db", "grpc :9090 service
// liveness", "exec /bin/check --fast".
func (d Definition) Summary() string {
	var b strings.Builder
	b.WriteString(d.Handler)
	if d.Scheme != "" {
		b.WriteString(" " + d.Scheme)
	}
	if d.Host != "" || d.Port != "" || d.Path != "" {
		b.WriteString(" " + d.Host)
		if d.Port != "" {
			b.WriteString(":" + d.Port)
		}
		b.WriteString(d.Path)
	}
	if len(d.Headers) > 0 {
		b.WriteString(" (headers " + strings.Join(d.Headers, ", ") + ")")
	}
	if d.Service != nil && *d.Service != "" {
		b.WriteString(" service " + *d.Service)
	}
	if len(d.Command) > 0 {
		b.WriteString(" " + strings.Join(d.Command, " "))
	}
	return b.String()
}

// Query selects, orders and pages rows.
type Query struct {
	// State, Target (entry name), Kind and Address select rows equal to
	// them; Labels rows carrying each name=value. Empty selects all.
	State, Target, Kind, Address string
	Labels                       map[string]string
	// Sort is "state" (failing first, then unknown, then passing; the
	// default) or "changed" (most recently changed first).
	Sort string
	// Offset and Limit page the result (Limit 0: DefaultLimit).
	Offset, Limit int
}

// Paging bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is what a Query found.
type Page struct {
	Rows []Row
	// Total is how many rows matched, before paging; Counts the same by
	// state, and ByEntry by entry (sorted by name).
	Total   int
	Counts  Counts
	ByEntry []EntryCounts
	// Entries are the entry names seen (for a filter's choices), sorted.
	Entries []string
}

// Counts are probes by thresholded state.
type Counts struct {
	Failure int `json:"failure"`
	Unknown int `json:"unknown"`
	Success int `json:"success"`
}

func (c *Counts) add(v state.Value) {
	switch v {
	case state.Failure:
		c.Failure++
	case state.Success:
		c.Success++
	default:
		c.Unknown++
	}
}

// EntryCounts are one entry's Counts.
type EntryCounts struct {
	Entry string `json:"entry"`
	Counts
}

// ParseQuery reads a Query from URL parameters: state, target, kind,
// address, label=name=value (repeatable), sort, offset, limit.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{State: v.Get("state"), Target: v.Get("target"), Kind: v.Get("kind"), Address: v.Get("address"), Sort: v.Get("sort")}
	switch q.State {
	case "", "success", "failure", "unknown":
	default:
		return q, fmt.Errorf("state: %q is not success, failure or unknown", q.State)
	}
	if q.Kind != "" {
		if _, err := probe.ParseKind(q.Kind); err != nil {
			return q, fmt.Errorf("kind: %q is not readiness, liveness or startup", q.Kind)
		}
	}
	switch q.Sort {
	case "", "state", "changed":
	default:
		return q, fmt.Errorf("sort: %q is not state or changed", q.Sort)
	}
	for _, l := range v["label"] {
		if l == "" {
			continue
		}
		name, value, ok := strings.Cut(l, "=")
		if !ok || name == "" {
			return q, fmt.Errorf("label: %q is not name=value", l)
		}
		if q.Labels == nil {
			q.Labels = map[string]string{}
		}
		q.Labels[name] = value
	}
	for _, p := range []struct {
		name string
		to   *int
	}{{"offset", &q.Offset}, {"limit", &q.Limit}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, fmt.Errorf("%s: %q is not a number ≥ 0", p.name, s)
			}
			*p.to = n
		}
	}
	return q, nil
}

// match is what a query selects and orders on: small, since every probe
// that matches has one while the page is chosen.
type match struct {
	id    probeID
	value state.Value
	since time.Time
}

// probeID names one probe across the two passes of Read.
type probeID struct {
	entry, key, address string
	kind                probe.Kind
}

func idOf(st *state.View) probeID {
	return probeID{st.Entry, st.Key, st.Labels.Address(), st.Kind}
}

// Read runs q against src in two passes: the first selects and orders on
// what is cheap to read, the second builds full rows for the page alone,
// so that a page costs what it shows, not what the exporter probes.
func Read(src state.Reader, q Query) Page {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	entries := map[string]bool{}
	byEntry := map[string]*Counts{}
	var counts Counts
	// Only the first offset+limit in order can be on the page: they are
	// kept in a bounded heap (the last of them on top) instead of sorting
	// every match, so that a page costs a walk and a few comparisons a
	// probe.
	best := firstK{k: q.Offset + limit, order: orderBy(q.Sort)}
	total := 0
	src.Each(func(st *state.View) {
		entries[st.Entry] = true
		v := st.Record.Value()
		address := st.Labels.Address()
		switch {
		case q.Target != "" && st.Entry != q.Target,
			q.Kind != "" && st.Kind.String() != q.Kind,
			q.State != "" && v.String() != q.State,
			q.Address != "" && address != q.Address,
			!hasLabels(st, q.Labels):
			return
		}
		total++
		counts.add(v)
		ec := byEntry[st.Entry]
		if ec == nil {
			ec = &Counts{}
			byEntry[st.Entry] = ec
		}
		ec.add(v)
		_, since := st.Record.Transitions()
		best.offer(match{id: probeID{st.Entry, st.Key, address, st.Kind}, value: v, since: since})
	})
	ms := best.sorted()
	p := Page{Total: total, Counts: counts, Rows: []Row{}}
	for e := range entries {
		p.Entries = append(p.Entries, e)
	}
	sort.Strings(p.Entries)
	for _, e := range p.Entries {
		if c := byEntry[e]; c != nil {
			p.ByEntry = append(p.ByEntry, EntryCounts{Entry: e, Counts: *c})
		}
	}
	if q.Offset >= len(ms) {
		return p
	}
	page := ms[q.Offset:min(len(ms), q.Offset+limit)]
	at := make(map[probeID]int, len(page))
	for i, m := range page {
		at[m.id] = i
	}
	rows := make([]*Row, len(page))
	src.Each(func(st *state.View) {
		if i, ok := at[idOf(st)]; ok {
			r := row(st)
			rows[i] = &r
		}
	})
	for _, r := range rows {
		if r != nil { // gone between the passes
			p.Rows = append(p.Rows, *r)
		}
	}
	return p
}

// stateRank orders failing first, then unknown, then passing.
func stateRank(v state.Value) int {
	switch v {
	case state.Failure:
		return 0
	case state.Success:
		return 2
	}
	return 1
}

func hasLabels(st *state.View, want map[string]string) bool {
	if len(want) == 0 {
		return true
	}
	names, values := st.Labels.Names.Names, st.Labels.Values
	found := 0
	for i, n := range names {
		if v, ok := want[n]; ok {
			if values[i] != v {
				return false
			}
			found++
		}
	}
	return found == len(want)
}

var historyWords = [...]string{state.HistorySuccess: "success", state.HistoryFailure: "failure", state.HistoryError: "error"}

func row(st *state.View) Row {
	rec := &st.Record
	last, run := rec.Run()
	_, since := rec.Transitions()
	r := Row{
		Target:                  st.Entry,
		Kind:                    st.Kind.String(),
		Address:                 st.Labels.Address(),
		Labels:                  map[string]string{},
		State:                   rec.Value().String(),
		SuccessThreshold:        st.SuccessThreshold,
		FailureThreshold:        st.FailureThreshold,
		Reason:                  rec.LastReason,
		ReasonClass:             rec.LastClass.String(),
		Output:                  rec.LastOutput,
		LastDurationSeconds:     rec.LastDuration.Seconds(),
		LastTransition:          since,
		History:                 []string{},
		HistoryDurationsSeconds: []float64{},
	}
	if last == state.Success {
		r.ConsecutiveSuccesses = run
	} else {
		r.ConsecutiveFailures = run
	}
	r.Transitions, _ = rec.Transitions()
	for _, h := range rec.History() {
		if int(h.Result) < len(historyWords) && historyWords[h.Result] != "" {
			r.History = append(r.History, historyWords[h.Result])
			// To the µs: more digits would say more than is kept.
			r.HistoryDurationsSeconds = append(r.HistoryDurationsSeconds, h.Took.Round(time.Microsecond).Seconds())
		}
	}
	if n := len(r.History); n > 0 {
		// The newest is the last attempt, whose duration is kept exactly.
		r.HistoryDurationsSeconds[n-1] = r.LastDurationSeconds
		r.LastResult = r.History[n-1]
		ok := 0
		for _, h := range r.History {
			if h == "success" {
				ok++
			}
		}
		up := float64(ok) / float64(n)
		r.Uptime = &up
	}
	if !st.Next.IsZero() {
		next := st.Next
		r.NextProbe = &next
	}
	r.Done = rec.OnHold()
	r.Probe = definition(st.Definition)
	names, values := st.Labels.Names.Names, st.Labels.Values
	for i := 3; i < len(names); i++ { // beyond target, kind, address
		r.Labels[names[i]] = values[i]
	}
	return r
}

// Reach is how a source node's probes of one node's pods fare, in mesh
// mode (probes with source_node and node labels).
type Reach struct {
	SourceNode string `json:"sourceNode"`
	Node       string `json:"node"`
	// Passing of Total readiness probes are in state success.
	Passing int `json:"passing"`
	Total   int `json:"total"`
	// Blocked of BlockedTotal isolation checks (expect: unreachable) hold:
	// pairs a policy should keep apart, counted apart from Total.
	Blocked      int `json:"blocked"`
	BlockedTotal int `json:"blockedTotal"`
}

// Mesh is who reaches whom: one Reach per (source node, node), sorted.
// Each replica knows its own source node's row; the full matrix is
// Prometheus' (ProbeMeshPartition, the dashboard's matrix).
func Mesh(src state.Reader) []Reach {
	type pair struct{ from, to string }
	at := map[pair]*Reach{}
	src.Each(func(st *state.View) {
		if st.Kind != probe.Readiness {
			return
		}
		var from, to string
		isolation := false
		names, values := st.Labels.Names.Names, st.Labels.Values
		for i, n := range names {
			switch n {
			case series.SourceNode:
				from = values[i]
			case series.Node:
				to = values[i]
			case series.Expect:
				isolation = values[i] == "unreachable"
			}
		}
		if from == "" || to == "" {
			return
		}
		r := at[pair{from, to}]
		if r == nil {
			r = &Reach{SourceNode: from, Node: to}
			at[pair{from, to}] = r
		}
		passing := st.Record.Value() == state.Success
		switch {
		case isolation:
			r.BlockedTotal++
			if passing {
				r.Blocked++
			}
		default:
			r.Total++
			if passing {
				r.Passing++
			}
		}
	})
	out := make([]Reach, 0, len(at))
	for _, r := range at {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Reach) int {
		if c := strings.Compare(a.SourceNode, b.SourceNode); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}

// orderBy is the views' order: failing first, then unknown, then
// passing (by entry, address, kind), or with sort "changed" the most
// recently changed first.
func orderBy(sort string) func(a, b match) int {
	return func(a, b match) int {
		if sort == "changed" {
			if c := b.since.Compare(a.since); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(stateRank(a.value), stateRank(b.value)), strings.Compare(a.id.entry, b.id.entry),
			strings.Compare(a.id.address, b.id.address), cmp.Compare(a.id.kind, b.id.kind))
	}
}

// firstK keeps the first k matches offered, in order: a heap with the
// last of them on top, which a better match replaces.
type firstK struct {
	k     int
	order func(a, b match) int
	heap  []match
}

func (f *firstK) offer(m match) {
	switch {
	case f.k <= 0:
	case len(f.heap) < f.k:
		f.heap = append(f.heap, m)
		f.up(len(f.heap) - 1)
	case f.order(m, f.heap[0]) < 0:
		f.heap[0] = m
		f.down(0)
	}
}

// up and down keep the heap's invariant: no match comes after its
// parent.
func (f *firstK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if f.order(f.heap[i], f.heap[parent]) <= 0 {
			return
		}
		f.heap[i], f.heap[parent] = f.heap[parent], f.heap[i]
		i = parent
	}
}

func (f *firstK) down(i int) {
	for {
		last := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(f.heap) && f.order(f.heap[c], f.heap[last]) > 0 {
				last = c
			}
		}
		if last == i {
			return
		}
		f.heap[i], f.heap[last] = f.heap[last], f.heap[i]
		i = last
	}
}

// sorted is the kept matches in order.
func (f *firstK) sorted() []match {
	slices.SortFunc(f.heap, f.order)
	return f.heap
}
