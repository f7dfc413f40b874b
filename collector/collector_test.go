package collector

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixed is a Source with a fixed state, so a scrape is byte-for-byte stable.
type fixed []scheduler.Status

func (f fixed) Each(fn func(*scheduler.Status)) {
	for i := range f {
		fn(&f[i])
	}
}

func probers(t *testing.T) (http, tcp prober.Prober) {
	t.Helper()
	var err error
	http, err = prober.New(&config.Probe{HTTPGet: &config.HTTPGetAction{Path: "/", Scheme: "HTTP"}, TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err = prober.New(&config.Probe{TCPSocket: &config.TCPSocketAction{}, TimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	return http, tcp
}

func fixture(t *testing.T) fixed {
	http, tcp := probers(t)
	webNames := &scheduler.LabelNames{Names: []string{"target", "kind", "address", "team", "zone"}}
	dbNames := &scheduler.LabelNames{Names: []string{"target", "kind", "address"}}
	appeared := time.Unix(1700000000, 0)

	ready := state.Record{Machine: state.NewMachine(state.Readiness, 1, 3, appeared)}
	ready.Apply(prober.Outcome{Result: prober.Success, StatusCode: 200}, 1500*time.Microsecond, appeared.Add(10*time.Second))
	ready.Apply(prober.Outcome{Result: prober.Failure, StatusCode: 503}, 2*time.Millisecond, appeared.Add(20*time.Second))

	live := state.Record{Machine: state.NewMachine(state.Liveness, 1, 1, appeared)}
	live.Apply(prober.Outcome{Result: prober.Failure}, 250*time.Millisecond, appeared.Add(10*time.Second))
	live.Apply(prober.Outcome{Err: errDiscarded{}}, time.Second, appeared.Add(20*time.Second))

	startup := state.Record{Machine: state.NewMachine(state.Startup, 1, 30, appeared)} // gated: never attempted

	return fixed{
		{Key: "web-1", Spec: &scheduler.Spec{Kind: state.Readiness, Prober: http, Entry: "web", Labels: webNames,
			Values: []string{"web", "readiness", "127.0.0.1:8080", "payments", "a"}}, Record: ready},
		{Key: "web-1", Spec: &scheduler.Spec{Kind: state.Startup, Prober: tcp, Entry: "web", Labels: webNames,
			Values: []string{"web", "startup", "127.0.0.1:8080", "payments", "a"}}, Record: startup},
		{Key: "db-1", Spec: &scheduler.Spec{Kind: state.Liveness, Prober: tcp, Entry: "db", Labels: dbNames,
			Values: []string{"db", "liveness", "[::1]:5432"}}, Record: live},
	}
}

type errDiscarded struct{}

func (errDiscarded) Error() string { return "discarded" }

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(New(fixture(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// The scheduler's self-metrics too.
	reg := prometheus.NewPedanticRegistry()
	scheduler.New(scheduler.Options{}, reg)
	problems, err = testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestGolden pins every per-target series, name, help text and value: the
// user-facing contract. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixture(t)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	const golden = "testdata/metrics.golden"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("scrape differs from %s (go test ./collector -update to accept):\n%s", golden, got)
	}
}

func TestRemovedTargetHasNoSeries(t *testing.T) {
	f := fixture(t)
	c := New(f)
	if n := testutil.CollectAndCount(c, "probe_state"); n != 3 {
		t.Fatalf("probe_state series: %d", n)
	}
	c.src = f[2:] // the web target went away
	if n := testutil.CollectAndCount(c, "probe_state"); n != 1 {
		t.Fatalf("after removal: %d probe_state series", n)
	}
	if n := testutil.CollectAndCount(c, "probe_exporter_targets"); n != 1 {
		t.Fatalf("after removal: %d probe_exporter_targets series", n)
	}
	if len(c.descs) != 1 {
		t.Errorf("descriptors of a vanished entry kept: %d", len(c.descs))
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP probe_exporter_targets Targets currently probed, by target entry.
# TYPE probe_exporter_targets gauge
probe_exporter_targets{target="db"} 1
`), "probe_exporter_targets"); err != nil {
		t.Error(err)
	}
}
