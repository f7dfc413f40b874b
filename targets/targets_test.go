package targets

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	_ "github.com/probe-exporter/probe-exporter/discovery/kubernetes" // registers the kubernetes: block
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func load(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const twoHosts = `
targets:
  - name: web
    labels: {team: payments, zone: default}
    static:
      - host: 127.0.0.1
        port: 8080
        labels: {zone: a}
      - host: ::1
        labels: {rack: r1}
    readinessProbe:
      httpGet: {path: /healthz, port: 9000}
    livenessProbe:
      exec:
        command: [/bin/true, $(PROBE_ADDRESS)]
`

func TestEntryTargets(t *testing.T) {
	c := load(t, twoHosts)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	ts := e.Targets(discovery.Static(&c.Targets[0]))
	if len(ts) != 2 {
		t.Fatalf("%d targets", len(ts))
	}
	first, second := ts[0], ts[1]
	if len(first.Specs) != 2 || first.Specs[0].Kind.String() != "liveness" || first.Specs[1].Kind.String() != "readiness" {
		t.Fatalf("specs: %+v", first.Specs)
	}
	// One schema for the entry: the union of entry and host label names.
	if got := strings.Join(first.Specs[0].Labels.Names.Names, ","); got != "target,kind,address,rack,team,zone" {
		t.Errorf("label names %s", got)
	}
	if first.Specs[0].Labels.Names != second.Specs[1].Labels.Names {
		t.Error("label names not shared across the entry")
	}
	// Host labels override entry labels; a missing one is empty.
	if got := strings.Join(first.Specs[1].Labels.Values, ","); got != "web,readiness,127.0.0.1:9000,,payments,a" {
		t.Errorf("readiness values %q", got)
	}
	if got := strings.Join(second.Specs[1].Labels.Values, ","); got != "web,readiness,[::1]:9000,r1,payments,default" {
		t.Errorf("readiness values %q", got)
	}
	// exec: the address is the host (with its port when it has one), and
	// the variables are there.
	if got := first.Specs[0].Labels.Values[2]; got != "127.0.0.1:8080" {
		t.Errorf("exec address %q", got)
	}
	if got := second.Specs[0].Labels.Values[2]; got != "::1" {
		t.Errorf("exec address %q", got)
	}
	vars := first.Specs[0].Target.Vars
	for k, want := range map[string]string{
		"PROBE_HOST": "127.0.0.1", "PROBE_PORT": "8080", "PROBE_ADDRESS": "127.0.0.1:8080",
		"PROBE_TARGET": "web", "PROBE_KIND": "liveness", "PROBE_LABEL_zone": "a", "PROBE_LABEL_team": "payments",
	} {
		if vars[k] != want {
			t.Errorf("%s = %q, want %q", k, vars[k], want)
		}
	}
	if _, ok := second.Specs[0].Target.Vars["PROBE_PORT"]; ok {
		t.Error("PROBE_PORT set for a host without a port")
	}
	if first.Specs[1].Target.Vars != nil {
		t.Error("non-exec probes don't need variables")
	}
	// Probers are shared by all targets of an entry.
	if first.Specs[1].Prober != second.Specs[1].Prober {
		t.Error("a prober per target: should be one per probe definition")
	}
	if first.Key == second.Key {
		t.Error("keys collide")
	}
}

// recorder is a Syncer that keeps what it was told.
type recorder map[string][]scheduler.Target

func (r recorder) Sync(source string, ts []scheduler.Target) {
	if ts == nil {
		delete(r, source)
		return
	}
	r[source] = ts
}

// group is what the recorder holds for an entry's group (whatever run
// of the entry's source sent it), and under which scheduler source.
func (r recorder) group(t *testing.T, name string) (string, []scheduler.Target) {
	t.Helper()
	var src string
	for s := range r {
		if strings.HasSuffix(s, "|"+name) {
			if src != "" {
				t.Fatalf("group %s under two sources: %s, %s", name, src, s)
			}
			src = s
		}
	}
	return src, r[src]
}

func TestManagerApply(t *testing.T) {
	r := recorder{}
	m := NewManager(r, Options{})
	if err := m.Apply(load(t, twoHosts)); err != nil {
		t.Fatal(err)
	}
	src, first := r.group(t, "static/web")
	if len(first) != 2 {
		t.Fatalf("after first apply: %v", r)
	}
	firstIdentity := first[0].Specs[1].Identity
	// Every reload below keeps the static list's scheduler source (an
	// edited list is taken in place), so the scheduler keeps what did not
	// change.
	web := func() []scheduler.Target {
		t.Helper()
		s, ts := r.group(t, "static/web")
		if s != src {
			t.Fatalf("the static list's source moved: %s, was %s", s, src)
		}
		return ts
	}
	// Same definitions: same identities, so the scheduler keeps state.
	if err := m.Apply(load(t, twoHosts)); err != nil {
		t.Fatal(err)
	}
	if web()[0].Specs[1].Identity != firstIdentity {
		t.Error("identity changed for an unchanged definition")
	}
	// A changed threshold is a new identity.
	changed := strings.Replace(twoHosts, "httpGet: {path: /healthz, port: 9000}", "httpGet: {path: /healthz, port: 9000}\n      failureThreshold: 5", 1)
	if err := m.Apply(load(t, changed)); err != nil {
		t.Fatal(err)
	}
	if web()[0].Specs[1].Identity == firstIdentity {
		t.Error("identity unchanged for a changed definition")
	}
	// How names resolve is part of the probe: a new address family is a
	// new identity too.
	family := strings.Replace(twoHosts, "    labels: {team: payments, zone: default}\n", "    labels: {team: payments, zone: default}\n    ipFamily: IPv6\n", 1)
	if err := m.Apply(load(t, family)); err != nil {
		t.Fatal(err)
	}
	if web()[0].Specs[1].Identity == firstIdentity {
		t.Error("identity unchanged for a changed ipFamily")
	}
	// An edited host list: the host that stayed keeps its key, under the
	// same source.
	keyOf := web()[1].Key
	edited := strings.Replace(family, "      - host: 127.0.0.1\n        port: 8080\n", "      - host: 127.0.0.2\n        port: 8080\n", 1)
	if err := m.Apply(load(t, edited)); err != nil {
		t.Fatal(err)
	}
	if ts := web(); len(ts) != 2 || ts[1].Key != keyOf || ts[0].Key == first[0].Key {
		t.Errorf("after editing one host: %+v", ts)
	}
	// An entry that disappears is removed from the scheduler.
	other := load(t, "targets:\n  - name: other\n    static: [{host: 127.0.0.1}]\n    readinessProbe: {tcpSocket: {port: 1}}\n")
	if err := m.Apply(other); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.group(t, "static/web"); s != "" || len(r) != 1 {
		t.Errorf("after replacing the entry: %v", r)
	}
	if _, ts := r.group(t, "static/other"); len(ts) != 1 {
		t.Errorf("after replacing the entry: %v", r)
	}
}

func TestRelabel(t *testing.T) {
	c := load(t, `
targets:
  - name: web
    labels: {team: payments, drop_me: x}
    static:
      - host: 127.0.0.1
        port: 8080
        labels: {zone: a}
      - host: 127.0.0.2
        port: 8080
        labels: {zone: skip}
    relabel_configs:
      - {source_labels: [zone], regex: skip, action: drop}
      - {regex: drop_me, action: labeldrop}
      - {source_labels: [__address__], regex: '(.+):\d+', replacement: '${1}:9090', target_label: __address__}
      - {source_labels: [zone], target_label: __tmp_zone}
      - {source_labels: [__tmp_zone], target_label: az}
    readinessProbe:
      tcpSocket: {}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	ts := e.Targets(discovery.Static(&c.Targets[0]))
	if len(ts) != 1 {
		t.Fatalf("want the zone=skip host dropped, got %d targets", len(ts))
	}
	sp := ts[0].Specs[0]
	if got := strings.Join(sp.Labels.Names.Names, ","); got != "target,kind,address,az,team,zone" {
		t.Errorf("label names %s (drop_me and __ labels must be gone)", got)
	}
	if got := strings.Join(sp.Labels.Values, ","); got != "web,readiness,127.0.0.1:9090,a,payments,a" {
		t.Errorf("values %s", got)
	}
	if sp.Target.Port != 9090 {
		t.Errorf("__address__ rewrite not applied: port %d", sp.Target.Port)
	}
	// The identity is the target's from before relabeling, so a change of
	// relabel output does not reset state by itself.
	if !strings.HasPrefix(ts[0].Key, "127.0.0.1|8080") {
		t.Errorf("key %q", ts[0].Key)
	}
}

// fakeDiscoverer records starts and stops, and lets a test send groups.
type fakeDiscoverer struct {
	fail    map[string]bool
	started map[string]int
	stopped map[string]int
	send    map[string]func(discovery.Group)
	last    map[string]discovery.Group // what Resync sends again
	resyncs map[string]int
	runs    map[string]*fakeRun
}

func (f *fakeDiscoverer) Start(ctx context.Context, entry string, _ config.Source, send func(discovery.Group)) (discovery.Running, error) {
	if f.fail[entry] {
		return nil, fmt.Errorf("target %q: cannot start", entry)
	}
	f.started[entry]++
	f.send[entry] = send
	done := make(chan struct{})
	go func() { <-ctx.Done(); f.stopped[entry]++; close(done) }()
	run := &fakeRun{done: done, resync: func() {
		if g, ok := f.last[entry]; ok {
			send(g)
		}
		f.resyncs[entry]++
	}}
	if f.runs != nil {
		f.runs[entry] = run
	}
	return run, nil
}

type fakeRun struct {
	done   chan struct{}
	resync func()
	synced atomic.Bool
}

func (r *fakeRun) Wait()        { <-r.done }
func (r *fakeRun) Resync()      { r.resync() }
func (r *fakeRun) Synced() bool { return r.synced.Load() }

func TestManagerDiscovered(t *testing.T) {
	r := recorder{}
	f := &fakeDiscoverer{fail: map[string]bool{}, started: map[string]int{}, stopped: map[string]int{}, send: map[string]func(discovery.Group){},
		last: map[string]discovery.Group{}, resyncs: map[string]int{}}
	m := NewManager(r, Options{Discovery: discovery.NewManager(map[string]discovery.Discoverer{"kubernetes": f}, nil)})
	defer m.Close()
	kube := func(name, role string) string {
		return fmt.Sprintf("  - name: %s\n    kubernetes: {role: %s}\n    readinessProbe: {tcpSocket: {port: 80}}\n", name, role)
	}
	if err := m.Apply(load(t, "targets:\n"+kube("a", "pod")+kube("b", "pod"))); err != nil {
		t.Fatal(err)
	}
	f.send["a"](discovery.Group{Source: "pod/ns/p", Targets: []discovery.Target{{ID: "c", Host: "192.0.2.1"}}})
	if len(r) != 1 {
		t.Fatalf("sources %v", r)
	}

	// A reload where b can't start changes nothing.
	f.fail["c"] = true
	if err := m.Apply(load(t, "targets:\n"+kube("a", "pod")+kube("c", "pod"))); err == nil {
		t.Fatal("want the start error")
	}
	if f.stopped["a"]+f.stopped["b"] != 0 || len(r) != 1 {
		t.Fatalf("a failed reload touched running entries: stopped %v, sources %v", f.stopped, r)
	}

	// a unchanged keeps running (its targets keep their state); b changes
	// and restarts; its old sources go.
	if err := m.Apply(load(t, "targets:\n"+kube("a", "pod")+kube("b", "service"))); err != nil {
		t.Fatal(err)
	}
	if f.started["a"] != 1 || f.started["b"] != 2 || f.stopped["b"] != 1 {
		t.Errorf("started %v stopped %v", f.started, f.stopped)
	}
	// a removed: stopped and its targets gone.
	if err := m.Apply(load(t, "targets:\n"+kube("b", "service"))); err != nil {
		t.Fatal(err)
	}
	if f.stopped["a"] != 1 || len(r) != 0 {
		t.Errorf("stopped %v, sources left %v", f.stopped, r)
	}
}

func TestShards(t *testing.T) {
	t.Parallel()
	const total = 3
	seen := map[int]int{}
	for i := 0; i < 3000; i++ {
		id := Identity{Entry: "pods", Group: "pod/ns/p", ID: discovery.ID(fmt.Sprint(i))}
		s := id.Shard(total)
		if s < 0 || s >= total {
			t.Fatalf("shard %d", s)
		}
		// The documented hash, so that replicas of different versions
		// agree as long as it holds.
		h := fnv.New64a()
		h.Write([]byte("pods|pod/ns/p\x00" + fmt.Sprint(i)))
		if s != int(h.Sum64()%total) {
			t.Fatalf("%s: shard %d, the documented hash says %d", id, s, h.Sum64()%total)
		}
		seen[s]++
	}
	for s, n := range seen {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d got %d of 3000", s, n)
		}
	}
	// Replicas split an entry's targets between them: every target on
	// exactly one.
	cfg := load(t, "targets: [{name: web, static: [{host: 10.0.0.1}, {host: 10.0.0.2}, {host: 10.0.0.3}, {host: 10.0.0.4}, {host: 10.0.0.5}, {host: 10.0.0.6}], readinessProbe: {tcpSocket: {port: 80}}}]\n")
	count := map[string]int{}
	for shard := 0; shard < total; shard++ {
		r := recorder{}
		m := NewManager(r, Options{Shard: shard, TotalShards: total})
		if err := m.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		_, ts := r.group(t, "static/web")
		for _, tg := range ts {
			count[tg.Specs[0].Labels.Address()]++
		}
		m.Close()
	}
	if len(count) != 6 {
		t.Errorf("targets probed by some replica: %v", count)
	}
	for a, n := range count {
		if n != 1 {
			t.Errorf("%s probed by %d replicas", a, n)
		}
	}
}

// TestOneProbePerRequest: an endpoint with ports http and metrics and a
// probe that names port http is one probe (on the http target), not two
// identical series; a probe without a port probes each port.
func TestOneProbePerRequest(t *testing.T) {
	c := load(t, `
targets:
  - name: web
    kubernetes: {role: endpointslice}
    readinessProbe:
      httpGet: {path: /healthz, port: http}
    livenessProbe:
      tcpSocket: {}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]int32{"http": 8080, "metrics": 9090}
	g := discovery.Group{Source: "endpointslice/ns/web-abc", Targets: []discovery.Target{
		{ID: "10.0.0.1|9090|metrics", Host: "10.0.0.1", Port: 9090, NamedPorts: named, Labels: map[string]string{"pod": "p"}},
		{ID: "10.0.0.1|8080|http", Host: "10.0.0.1", Port: 8080, NamedPorts: named, Labels: map[string]string{"pod": "p"}},
		{ID: "10.0.0.2|9090|metrics", Host: "10.0.0.2", Port: 9090, NamedPorts: named, Labels: map[string]string{"pod": "q"}},
		{ID: "10.0.0.2|8080|http", Host: "10.0.0.2", Port: 8080, NamedPorts: named, Labels: map[string]string{"pod": "q"}},
	}}
	got := map[string][]string{} // key -> kind@address
	series := map[string]bool{}
	for _, st := range e.Targets(g) {
		for _, sp := range st.Specs {
			got[st.Key] = append(got[st.Key], sp.Kind.String()+"@"+sp.Labels.Values[2])
			k := strings.Join(sp.Labels.Values, "|")
			if series[k] {
				t.Errorf("duplicate series %s", k)
			}
			series[k] = true
		}
	}
	want := map[string][]string{
		"10.0.0.1|9090|metrics": {"liveness@10.0.0.1:9090"},
		"10.0.0.1|8080|http":    {"liveness@10.0.0.1:8080", "readiness@10.0.0.1:8080"},
		"10.0.0.2|9090|metrics": {"liveness@10.0.0.2:9090"},
		"10.0.0.2|8080|http":    {"liveness@10.0.0.2:8080", "readiness@10.0.0.2:8080"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestRelabelPrometheusAddress: relabel_configs see __address__ as
// Prometheus builds it (the service role's svc.ns.svc:port); untouched,
// the full name is probed; rewritten, the rewrite is.
func TestRelabelPrometheusAddress(t *testing.T) {
	c := load(t, `
targets:
  - name: svc
    kubernetes: {role: service}
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.+)\.svc:(\d+)'
        target_label: short
        replacement: '$1:$2'
      - source_labels: [__meta_rewrite]
        regex: (.+)
        target_label: __address__
    readinessProbe: {tcpSocket: {}}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	g := discovery.Group{Source: "service/ns/api", Targets: []discovery.Target{
		{ID: "a", Host: "api.ns.svc.cluster.local", Port: 443, Address: "api.ns.svc:443"},
		{ID: "b", Host: "web.ns.svc.cluster.local", Port: 80, Address: "web.ns.svc:80", Meta: map[string]string{"__meta_rewrite": "10.0.0.7:8080"}},
	}}
	ts := e.Targets(g)
	if len(ts) != 2 {
		t.Fatalf("%d targets", len(ts))
	}
	a, b := ts[0].Specs[0], ts[1].Specs[0]
	if a.Labels.Values[2] != "api.ns.svc.cluster.local:443" || a.Target.Host != "api.ns.svc.cluster.local" {
		t.Errorf("untouched __address__: probes %s (%s)", a.Labels.Values[2], a.Target.Host)
	}
	if got := a.Labels.Values[slices.Index(a.Labels.Names.Names, "short")]; got != "api.ns:443" {
		t.Errorf("regex on Prometheus' __address__: short=%q", got)
	}
	if b.Labels.Values[2] != "10.0.0.7:8080" || b.Target.Host != "10.0.0.7" || b.Target.Port != 8080 {
		t.Errorf("rewritten __address__: %s %+v", b.Labels.Values[2], b.Target)
	}
}

// TestRelabelKeepsOwnProbes: relabel_configs on an inheritProbes entry
// keep each target's own probes and start time.
func TestRelabelKeepsOwnProbes(t *testing.T) {
	c := load(t, `
targets:
  - name: pods
    kubernetes: {role: pod, inheritProbes: true}
    relabel_configs:
      - {action: labelmap, regex: '__meta_kubernetes_pod_label_(.+)'}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Unix(1700000000, 0)
	def := &probe.Probe{TCPSocket: &probe.TCPSocketAction{Port: probe.IntOrString{IntVal: 5432}}}
	def.SetDefaults()
	g := discovery.Group{Source: "pod/ns/db-0", Targets: []discovery.Target{{
		ID: "db|cid|0", Host: "192.0.2.4", Since: since, Meta: map[string]string{"__meta_kubernetes_pod_label_app": "db"},
		Probes: []config.KindProbe{{Kind: probe.Readiness, Probe: def}},
	}}}
	ts := e.Targets(g)
	if len(ts) != 1 || len(ts[0].Specs) != 1 || !ts[0].Since.Equal(since) || ts[0].Specs[0].Labels.Values[2] != "192.0.2.4:5432" {
		t.Fatalf("targets %+v", ts)
	}
}

// TestManagerReloadKeepsDiscovery: editing only probes, relabeling or
// labels of a discovered entry re-derives its targets from the running
// discovery (same sources, so unchanged probes keep their state) instead
// of restarting its watches.
func TestManagerReloadKeepsDiscovery(t *testing.T) {
	r := recorder{}
	f := &fakeDiscoverer{fail: map[string]bool{}, started: map[string]int{}, stopped: map[string]int{}, send: map[string]func(discovery.Group){},
		last: map[string]discovery.Group{}, resyncs: map[string]int{}}
	m := NewManager(r, Options{Discovery: discovery.NewManager(map[string]discovery.Discoverer{"kubernetes": f}, nil)})
	defer m.Close()
	entry := func(period int, team string) *config.Config {
		return load(t, fmt.Sprintf(`
targets:
  - name: a
    labels: {team: %s}
    kubernetes: {role: pod, namespaces: [shop]}
    readinessProbe: {tcpSocket: {port: 80}}
    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: %d}
`, team, period))
	}
	if err := m.Apply(entry(10, "x")); err != nil {
		t.Fatal(err)
	}
	g := discovery.Group{Source: "pod/shop/p", Targets: []discovery.Target{{ID: "c", Host: "192.0.2.1"}}}
	f.last["a"] = g
	f.send["a"](g)
	var src string
	for s := range r {
		src = s
	}
	before := r[src]
	if err := m.Apply(entry(20, "y")); err != nil {
		t.Fatal(err)
	}
	if f.started["a"] != 1 || f.stopped["a"] != 0 || f.resyncs["a"] != 1 {
		t.Fatalf("discovery restarted: started %v stopped %v resyncs %v", f.started, f.stopped, f.resyncs)
	}
	after, ok := r[src]
	if !ok || len(r) != 1 {
		t.Fatalf("sources changed: %v", r)
	}
	spec := func(ts []scheduler.Target, kind string) scheduler.Spec {
		for _, sp := range ts[0].Specs {
			if sp.Kind.String() == kind {
				return sp
			}
		}
		t.Fatalf("no %s probe", kind)
		return scheduler.Spec{}
	}
	if spec(before, "readiness").Identity != spec(after, "readiness").Identity {
		t.Error("the unchanged readiness probe changed identity")
	}
	if spec(after, "liveness").Period != 20*time.Second || !slices.Contains(spec(after, "liveness").Labels.Values, "y") {
		t.Errorf("the edit did not take: %+v", spec(after, "liveness"))
	}
	// The discovery block itself changed: watches restart.
	if err := m.Apply(load(t, "targets:\n  - name: a\n    kubernetes: {role: pod}\n    readinessProbe: {tcpSocket: {port: 80}}\n")); err != nil {
		t.Fatal(err)
	}
	if f.started["a"] != 2 || f.stopped["a"] != 1 {
		t.Errorf("a changed discovery block: started %v stopped %v", f.started, f.stopped)
	}
}

// testEnv is the prober environment the tests share.
var testEnv = prober.NewEnv(prober.EnvOptions{})

// TestRelabelInvalidLabelName: labelmap can produce a name no series can
// carry; the target is dropped, as Prometheus drops it ("invalid label
// name"), instead of exposing an invalid series.
func TestRelabelInvalidLabelName(t *testing.T) {
	c := load(t, `
targets:
  - name: web
    static:
      - {host: 127.0.0.1, port: 8080, labels: {zone: a}}
    relabel_configs:
      - {regex: 'zone', replacement: 'the-zone', action: labelmap}
    readinessProbe:
      tcpSocket: {}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if ts := e.Targets(discovery.Static(&c.Targets[0])); len(ts) != 0 {
		t.Fatalf("a target with the label name %q was kept: %+v", "the-zone", ts[0].Specs[0].Labels)
	}
}

// TestManagerSynced: the manager is synced when every entry is: static
// ones at once, discovered ones when their running source says so (the
// contract, not a metric); probe_exporter_discovery_synced renders the
// same at scrape time, and forgets an entry that is gone.
func TestManagerSynced(t *testing.T) {
	f := &fakeDiscoverer{fail: map[string]bool{}, started: map[string]int{}, stopped: map[string]int{}, send: map[string]func(discovery.Group){},
		last: map[string]discovery.Group{}, resyncs: map[string]int{}, runs: map[string]*fakeRun{}}
	reg := prometheus.NewPedanticRegistry()
	m := NewManager(recorder{}, Options{Discovery: discovery.NewManager(map[string]discovery.Discoverer{"kubernetes": f}, discovery.NewMetrics(reg))})
	defer m.Close()
	cfg := load(t, `
targets:
  - name: files
    static: [{host: 127.0.0.1, port: 80}]
    readinessProbe: {tcpSocket: {}}
  - name: pods
    kubernetes: {role: pod, inheritProbes: true}
`)
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	rendered := func() string {
		var b []string
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, mm := range mf.GetMetric() {
				for _, l := range mm.GetLabel() {
					if l.GetName() == "target" {
						b = append(b, fmt.Sprintf("%s=%v;", l.GetValue(), mm.GetGauge().GetValue()))
					}
				}
			}
		}
		sort.Strings(b)
		return strings.Join(b, "")
	}
	if m.Synced() || rendered() != "files=1;pods=0;" {
		t.Errorf("before the source syncs: synced %v, rendered %s", m.Synced(), rendered())
	}
	f.runs["pods"].synced.Store(true)
	if !m.Synced() || rendered() != "files=1;pods=1;" {
		t.Errorf("after: synced %v, rendered %s", m.Synced(), rendered())
	}
	if err := m.Apply(load(t, "targets: [{name: files, static: [{host: 127.0.0.1, port: 80}], readinessProbe: {tcpSocket: {}}}]\n")); err != nil {
		t.Fatal(err)
	}
	if got := rendered(); got != "files=1;" {
		t.Errorf("after the entry went: %s", got)
	}
}

// TestCheck: the one check before a configuration runs says every
// problem at once, and Apply refuses what it refuses, changing nothing.
func TestCheck(t *testing.T) {
	cfg := load(t, `
targets:
  - name: a
    kubernetes: {role: pod, scope: node}
    readinessProbe: {tcpSocket: {port: 80}}
  - name: b
    kubernetes: {role: pod, scope: mesh}
    readinessProbe: {tcpSocket: {port: 80}}
`)
	_, err := Check(cfg, testEnv, discovery.Host{})
	if err == nil || !strings.Contains(err.Error(), `target "a": `) || !strings.Contains(err.Error(), `target "b": `) {
		t.Fatalf("want both entries' problems: %v", err)
	}
	if _, err := Check(cfg, testEnv, discovery.Host{NodeName: "n1"}); err != nil {
		t.Errorf("with a node name: %v", err)
	}
	r := recorder{}
	m := NewManager(r, Options{})
	defer m.Close()
	if err := m.Apply(load(t, twoHosts)); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cfg); err == nil || err.Error() != func() string { _, e := Check(cfg, testEnv, discovery.Host{}); return e.Error() }() {
		t.Errorf("Apply says %v", err)
	}
	if _, ts := r.group(t, "static/web"); len(ts) != 2 {
		t.Errorf("a refused configuration changed what runs: %v", r)
	}
}

// TestRouteTargets: an L7 route's target runs the entry's httpGet with the
// route's path and scheme as the route's host (the entry's own host field
// is dropped), connecting through Via; relabeling keeps the route; two
// paths are two probes; a tcpSocket probe of the entry is left as it is.
func TestRouteTargets(t *testing.T) {
	c := load(t, `
targets:
  - name: routes
    kubernetes: {role: ingress}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_ingress_name], target_label: ingress}
    readinessProbe: {httpGet: {path: /ignored, host: ignored.example, scheme: HTTP, httpHeaders: [{name: X-Probe, value: "1"}]}, periodSeconds: 7}
    livenessProbe: {tcpSocket: {}}
`)
	e, err := NewEntry(&c.Targets[0], testEnv)
	if err != nil {
		t.Fatal(err)
	}
	route := func(path string) discovery.Target {
		return discovery.Target{ID: discovery.IDOf(path), Host: "shop.example.com", Port: 443, Address: "shop.example.com",
			Meta:  map[string]string{"__meta_kubernetes_ingress_name": "shop"},
			Route: &discovery.Route{Scheme: "HTTPS", Path: path, Via: "192.0.2.80"}}
	}
	ts := e.Targets(discovery.Group{Source: "ingress/ns/shop", Targets: []discovery.Target{route("/cart"), route("/api")}})
	if len(ts) != 2 {
		t.Fatalf("%d targets", len(ts))
	}
	seen := map[string]bool{}
	for _, tg := range ts {
		for _, sp := range tg.Specs {
			if sp.Target.Via != "192.0.2.80" || sp.Target.Host != "shop.example.com" {
				t.Errorf("%s: prober target %+v", sp.Kind, sp.Target)
			}
			if sp.Kind == probe.Liveness {
				if sp.Definition.TCPSocket == nil {
					t.Errorf("liveness %+v", sp.Definition)
				}
				continue
			}
			get := sp.Definition.HTTPGet
			if get.Scheme != "HTTPS" || get.Host != "" || len(get.HTTPHeaders) != 1 || sp.Period != 7*time.Second {
				t.Errorf("readiness %+v", get)
			}
			seen[get.Path] = true
			if sp.Labels.Values[2] != "shop.example.com:443" {
				t.Errorf("address %q", sp.Labels.Values[2])
			}
		}
	}
	if !seen["/cart"] || !seen["/api"] {
		t.Errorf("paths probed: %v", seen)
	}
}
