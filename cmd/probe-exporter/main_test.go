package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/loadserver"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/golden"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var binary string

// TestMain builds the real binary once; every test here runs it as a
// separate process, as a user would. The tests run inside a network
// namespace of their own (kubetest.MainInNetns), where TEST-NET addresses
// on loopback let discovered endpoints really answer.
func TestMain(m *testing.M) {
	if spec := os.Getenv(envRawLoop); spec != "" {
		os.Exit(rawLoop(spec))
	}
	if spec := os.Getenv(envPaced); spec != "" {
		os.Exit(pacedLoop(spec))
	}
	loadserver.Main()
	flag.Parse()
	if b := os.Getenv(envBinary); b != "" {
		binary = b // re-run inside the namespace: built already
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "probe-exporter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "probe-exporter")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.Exit(1)
	}
	os.Setenv(envBinary, binary)
	code := kubetest.MainInNetns(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

const envBinary = "PROBE_EXPORTER_TEST_BINARY"

type exporter struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	mu   sync.Mutex
	logs strings.Builder
}

var listeningRE = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// start runs the binary on a free loopback port and waits until it
// listens.
func start(t testing.TB, args ...string) *exporter {
	t.Helper()
	// Defaults the test's own flags override.
	defaults := map[string]string{"--web.listen-address": "127.0.0.1:0", "--log.level": "debug"}
	for _, a := range args {
		delete(defaults, strings.SplitN(a, "=", 2)[0])
	}
	for _, f := range []string{"--web.listen-address", "--log.level"} {
		if v, ok := defaults[f]; ok {
			args = append([]string{f + "=" + v}, args...)
		}
	}
	e := &exporter{cmd: exec.Command(binary, args...), done: make(chan error, 1)}
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.mu.Lock()
			e.logs.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		e.done <- e.cmd.Wait()
	}()
	t.Cleanup(func() {
		if e.cmd.ProcessState == nil {
			// SIGTERM, so a race detector report is flushed.
			_ = e.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.done:
			case <-time.After(5 * time.Second):
				_ = e.cmd.Process.Kill()
				<-e.done
			}
		}
		if strings.Contains(e.log(), "WARNING: DATA RACE") {
			t.Errorf("the exporter has a data race")
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.log())
		}
	})
	select {
	case a := <-addr:
		e.url = "http://" + a
		for _, arg := range args {
			if strings.HasPrefix(arg, "--web.config.file=") {
				e.url = "https://" + a
			}
		}
	case err := <-e.done:
		t.Fatalf("exporter exited before listening: %v\n%s", err, e.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("exporter did not listen\n%s", e.log())
	}
	return e
}

// waitLog waits until the exporter has logged a line containing s (its
// output is read as it comes).
func (e *exporter) waitLog(t testing.TB, s string) {
	t.Helper()
	await.True(t, fmt.Sprintf("the exporter to log %q", s), func() bool { return strings.Contains(e.log(), s) })
}

func (e *exporter) log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

// client trusts the test's self-signed certificates.
var client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test certificates

// scrape reads /metrics, and checks the invariant every scrape must hold:
// no series appears twice.
func (e *exporter) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := client.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkNoDuplicates(t, mfs)
	return mfs
}

func checkNoDuplicates(t testing.TB, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	for name, mf := range mfs {
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			pairs := make([]string, 0, len(m.GetLabel()))
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName()+"="+strconv.Quote(lp.GetValue()))
			}
			sort.Strings(pairs)
			k := strings.Join(pairs, ",")
			if seen[k] {
				t.Errorf("duplicate series in one scrape: %s{%s}", name, k)
			}
			seen[k] = true
		}
	}
}

// matching returns the series of family name whose labels include want.
func matching(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
next:
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value returns the value of the first series of family name whose
// labels include want, and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	ms := matching(mfs, name, want)
	if len(ms) == 0 {
		return 0, false
	}
	switch m := ms[0]; {
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	default:
		return m.GetUntyped().GetValue(), true
	}
}

// eventually polls the exporter until cond holds for a scrape; check runs
// on every scrape on the way, for invariants.
func (e *exporter) eventually(t *testing.T, what string, cond func(map[string]*dto.MetricFamily) bool, check func(map[string]*dto.MetricFamily)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mfs := e.scrape(t)
		if check != nil {
			check(mfs)
		}
		if cond(mfs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeConfig(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hostPort(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestEndToEnd flips a real HTTP server and a file-checking exec probe
// down and up, and checks probe_state follows the thresholds on every
// scrape along the way.
func TestEndToEnd(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && healthy.Load() {
			fmt.Fprintln(w, "ok")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	host, port := hostPort(t, srv.URL)
	dir := t.TempDir()
	flag := filepath.Join(dir, "up")
	writeConfig(t, flag, "")
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: web
    labels: {team: payments}
    static:
      - host: %s
        labels: {zone: a}
    readinessProbe:
      httpGet: {path: /healthz, port: %s}
      periodSeconds: 1
      successThreshold: 2
      failureThreshold: 2
    livenessProbe:
      tcpSocket: {port: %s}
      periodSeconds: 1
  - name: file
    static:
      - host: 127.0.0.1
    livenessProbe:
      exec:
        command: [/bin/sh, -c, 'test -e "$1" && echo "$(PROBE_TARGET) up"', sh, %s]
      periodSeconds: 1
      failureThreshold: 2
`, host, port, port, flag))
	e := start(t, "--config.file="+cfg)

	web := map[string]string{"target": "web", "kind": "readiness", "address": net.JoinHostPort(host, port), "team": "payments", "zone": "a"}
	file := map[string]string{"target": "file", "kind": "liveness", "address": "127.0.0.1"}
	// On every scrape: the state never runs ahead of its thresholds.
	invariant := func(mfs map[string]*dto.MetricFamily) {
		st, _ := value(mfs, "probe_state", web)
		fails, _ := value(mfs, "probe_consecutive_failures", web)
		succs, _ := value(mfs, "probe_consecutive_successes", web)
		if st == 0 && succs >= 2 {
			t.Errorf("readiness is 0 after %v consecutive successes (successThreshold 2)", succs)
		}
		if st == 1 && fails >= 2 {
			t.Errorf("readiness is 1 after %v consecutive failures (failureThreshold 2)", fails)
		}
	}
	stateIs := func(labels map[string]string, want float64) func(map[string]*dto.MetricFamily) bool {
		return func(mfs map[string]*dto.MetricFamily) bool {
			v, ok := value(mfs, "probe_state", labels)
			return ok && v == want
		}
	}

	e.eventually(t, "web ready and file alive", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(web, 1)(mfs) && stateIs(file, 1)(mfs)
	}, invariant)
	mfs := e.scrape(t)
	if v, _ := value(mfs, "probe_http_status_code", web); v != 200 {
		t.Errorf("status code %v", v)
	}
	if v, _ := value(mfs, "probe_success", map[string]string{"target": "web", "kind": "liveness"}); v != 1 {
		t.Errorf("tcp liveness probe_success %v", v)
	}

	healthy.Store(false)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "web not ready and file dead", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(web, 0)(mfs) && stateIs(file, 0)(mfs)
	}, invariant)
	mfs = e.scrape(t)
	if v, _ := value(mfs, "probe_http_status_code", web); v != 503 {
		t.Errorf("status code %v", v)
	}
	if v, _ := value(mfs, "probe_state_transitions_total", web); v != 2 {
		t.Errorf("readiness transitions %v, want 2 (initial Failure -> Success -> Failure)", v)
	}

	healthy.Store(true)
	writeConfig(t, flag, "")
	e.eventually(t, "web ready and file alive again", func(mfs map[string]*dto.MetricFamily) bool {
		return stateIs(web, 1)(mfs) && stateIs(file, 1)(mfs)
	}, invariant)
}

func TestGracefulShutdown(t *testing.T) {
	e := start(t)
	e.eventually(t, "the embedded default's self target to be ready", func(mfs map[string]*dto.MetricFamily) bool {
		v, ok := value(mfs, "probe_state", map[string]string{"target": "self", "kind": "readiness"})
		return ok && v == 1
	}, nil)
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after SIGTERM")
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	entry := func(name string) string {
		return fmt.Sprintf("targets:\n  - name: %s\n    static: [{host: 127.0.0.1}]\n    livenessProbe:\n      tcpSocket: {port: 1}\n      periodSeconds: 1\n", name)
	}
	writeConfig(t, cfg, entry("first"))
	e := start(t, "--config.file="+cfg, "--web.enable-lifecycle")
	has := func(mfs map[string]*dto.MetricFamily, target string) bool {
		_, ok := value(mfs, "probe_state", map[string]string{"target": target})
		return ok
	}
	e.eventually(t, "first", func(mfs map[string]*dto.MetricFamily) bool { return has(mfs, "first") }, nil)

	// A bad config keeps the old one running and says so.
	writeConfig(t, cfg, entry("second")+"    bogus: 1\n")
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "a failed reload to show", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_config_last_reload_successful", nil)
		return v == 0
	}, nil)
	if mfs := e.scrape(t); !has(mfs, "first") || has(mfs, "second") {
		t.Fatal("a failed reload changed the running targets")
	}
	e.waitLog(t, `config.yaml:7:5: targets[0].bogus: unknown field`)

	// A good one, through the HTTP lifecycle endpoint.
	writeConfig(t, cfg, entry("second"))
	res, err := client.Post(e.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("reload: %d %s", res.StatusCode, body)
	}
	mfs := e.scrape(t)
	if has(mfs, "first") || !has(mfs, "second") {
		t.Fatal("targets not replaced by the reload")
	}
	if v, _ := value(mfs, "probe_exporter_config_last_reload_successful", nil); v != 1 {
		t.Error("reload success not shown")
	}

	// Reloading an unchanged entry keeps its targets' state: the counters
	// go on instead of starting again.
	failures := func() float64 {
		v, _ := value(e.scrape(t), "probe_results_total", map[string]string{"target": "second", "result": "failure"})
		return v
	}
	e.eventually(t, "a failure counted", func(map[string]*dto.MetricFamily) bool { return failures() >= 1 }, nil)
	before := failures()
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitLog(t, "configuration reloaded")
	if after := failures(); after < before {
		t.Errorf("an unchanged target was reset by a reload: failures %v -> %v", before, after)
	}
}

// TestAutoReload: with --config.auto-reload the exporter follows its file
// through the symlink swap a ConfigMap volume does: a bad version keeps the
// running configuration and says so, a good one replaces it, and an
// entry that did not change keeps its probes' state.
func TestAutoReload(t *testing.T) {
	entry := func(name string) string {
		return fmt.Sprintf("  - name: %s\n    static: [{host: 127.0.0.1}]\n    livenessProbe: {tcpSocket: {port: 1}, periodSeconds: 1}\n", name)
	}
	vol := kubetest.NewConfigMapVolume(t, "config.yaml", "targets:\n"+entry("kept")+entry("first"))
	e := start(t, "--config.file="+vol.Path(), "--config.auto-reload", "--config.auto-reload-interval=1s")
	has := func(mfs map[string]*dto.MetricFamily, target string) bool {
		_, ok := value(mfs, "probe_state", map[string]string{"target": target})
		return ok
	}
	failures := func(mfs map[string]*dto.MetricFamily) float64 {
		v, _ := value(mfs, "probe_results_total", map[string]string{"target": "kept", "result": "failure"})
		return v
	}
	e.eventually(t, "a failure of kept counted", func(mfs map[string]*dto.MetricFamily) bool { return failures(mfs) >= 1 }, nil)

	vol.Update("targets:\n" + entry("kept") + entry("second") + "    bogus: 1\n")
	e.eventually(t, "the bad version reported", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_config_last_reload_successful", nil)
		return v == 0
	}, nil)
	e.waitLog(t, "keeping the previous configuration")
	mfs := e.scrape(t)
	if !has(mfs, "first") || has(mfs, "second") {
		t.Fatal("a bad version changed the running targets")
	}
	before := failures(mfs)

	vol.Update("targets:\n" + entry("kept") + entry("second"))
	e.eventually(t, "the good version applied", func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_config_last_reload_successful", nil)
		return v == 1 && has(mfs, "second") && !has(mfs, "first")
	}, nil)
	if after := failures(e.scrape(t)); after < before {
		t.Errorf("an unchanged entry was reset by the reload: failures %v -> %v", before, after)
	}
}

func TestAutoReloadFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, "targets: []\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config.auto-reload"}, "--config.auto-reload needs --config.file"},
		{[]string{"--config.file=" + cfg, "--config.auto-reload", "--config.auto-reload-interval=100ms"}, "--config.auto-reload-interval must be at least 1s"},
	} {
		out, err := exec.Command(binary, append(c.args, "--web.listen-address=127.0.0.1:0")...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: want exit 1 saying %q, got %v\n%s", c.args, c.want, err, out)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--shard=2", "--total-shards=2"},
		{"--shard=-1"},
		{"--total-shards=0"},
		{"--no-such-flag"},
		{"--probe.max-in-flight=0"},
		{"--probe.max-in-flight=-5"},
		{"--probe.max-in-flight=lots"},
	} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: want exit 2, got %v\n%s", args, err, out)
		}
		if flag := strings.SplitN(args[len(args)-1], "=", 2)[0]; !strings.Contains(string(out), flag) {
			t.Errorf("%v: the message does not name %s:\n%s", args, flag, out)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, "targets:\n  - name: a\n    static: [{host: 127.0.0.1}]\n    readinessProbe: {tcpSocket: {port: 80}}\n")
	out, err := exec.Command(binary, "--config.check", "--config.file="+good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("valid config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, bad, "targets:\n  - name: a\n    static: [{host: 127.0.0.1}]\n    readinessProbe: {tcpSocket: {port: 0}}\n")
	out, err = exec.Command(binary, "--config.check", "--config.file="+bad).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("invalid config: want exit 1, got %v", err)
	}
	if want := "bad.yaml:4:40: targets[0].readinessProbe.tcpSocket.port: Invalid value: 0"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// TestMetricFamilies pins the name, type and help of every probe_* family
// of a real scrape (values vary; the golden in collector/ pins those).
func TestMetricFamilies(t *testing.T) {
	e := start(t)
	var got []string
	e.eventually(t, "every family to appear", func(mfs map[string]*dto.MetricFamily) bool {
		got = got[:0]
		for name, mf := range mfs {
			if strings.HasPrefix(name, "probe_") {
				got = append(got, fmt.Sprintf("%s %s %s", name, mf.GetType(), mf.GetHelp()))
			}
		}
		_, ok := mfs["probe_http_status_code"]
		_, failing := mfs["probe_failure_reason"] // the default's failing demo target
		return ok && failing
	}, nil)
	sort.Strings(got)
	text := strings.Join(got, "\n") + "\n"
	golden.Check(t, "testdata/families.golden", text, *update)
}

// checkQueriesParse hands every query, Grafana's variables replaced, to
// promtool check rules: Prometheus' own parser (promql/parser) judges them.
func checkQueriesParse[P any](t *testing.T, panels []P) {
	t.Helper()
	bin := os.Getenv("PROBE_EXPORTER_PROMTOOL")
	if bin == "" {
		t.Log("no promtool (PROBE_EXPORTER_PROMTOOL): queries not parsed")
		return
	}
	data, _ := json.Marshal(panels)
	var ps []struct {
		Targets []struct{ Expr string } `json:"targets"`
	}
	_ = json.Unmarshal(data, &ps)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m",
		"$instance", ".*", "$target", ".*", "$namespace", ".*", "$kind", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range ps {
		for _, q := range p.Targets {
			n++
			fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %q\n", n, vars.Replace(q.Expr))
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	writeConfig(t, path, rules.String())
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool: the dashboard's queries do not parse: %v\n%s", err, out)
	}
}

// TestGrafanaDashboard keeps examples/grafana honest: it is valid JSON and
// every metric it queries is one the exporter exports (the families of a
// real scrape, testdata/families.golden, the discovery families, which
// appear with kubernetes entries, and HTTPS probes' TLS families).
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("../../examples/grafana/probe-exporter.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title       string `json:"title"`
			Type        string `json:"type"`
			FieldConfig struct {
				Defaults struct {
					Mappings []struct {
						Options map[string]struct {
							Text string `json:"text"`
						} `json:"options"`
					} `json:"mappings"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	for _, want := range []string{"datasource", "instance", "target", "namespace", "kind"} {
		if !vars[want] {
			t.Errorf("no $%s variable", want)
		}
	}
	// probe_state's values read as words, where a panel shows them raw.
	for _, p := range dash.Panels {
		if p.Type != "table" && p.Type != "state-timeline" || !strings.Contains(p.Targets[0].Expr, "probe_state{") {
			continue
		}
		m := p.FieldConfig.Defaults.Mappings
		if len(m) == 0 || m[0].Options["-1"].Text != "unknown" || m[0].Options["0"].Text != "failure" || m[0].Options["1"].Text != "success" {
			t.Errorf("panel %q: probe_state's -1/0/1 are not mapped to unknown/failure/success", p.Title)
		}
	}
	checkQueriesParse(t, dash.Panels)
	for _, p := range dash.Panels {
		if strings.HasPrefix(p.Title, "Routes (Ingress, HTTPRoute)") {
			checkRoutesPanel(t, p.Targets[0].Expr)
		}
	}
	known := map[string]bool{
		"probe_exporter_discovery_synced": true, "probe_exporter_kubernetes_discovery_errors_total": true,
		"probe_exporter_kubernetes_discovery_events_total": true, "probe_exporter_discovery_skipped": true,
		// HTTPS probes' (the default configuration has none: TestTLSFactsOnMetrics scrapes them).
		"probe_ssl_earliest_cert_expiry": true, "probe_ssl_last_chain_expiry_timestamp_seconds": true,
		"probe_ssl_last_chain_info": true, "probe_tls_version_info": true,
	}
	families, err := os.ReadFile("testdata/families.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(families), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			known[f[0]] = true
		}
	}
	metric := regexp.MustCompile(`\bprobe_[a-z_]+`)
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			for _, m := range metric.FindAllString(q.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if !known[m] && !known[base] {
					t.Errorf("panel %q queries %s, which the exporter does not export", p.Title, m)
				}
			}
		}
	}
}

// checkRoutesPanel runs the routes panel's query through promtool's rule
// tests: a route failing while its Service's backends pass, and one
// passing while a backend fails, each with its state and what its
// backends do.
func checkRoutesPanel(t *testing.T, expr string) {
	t.Helper()
	bin := os.Getenv("PROBE_EXPORTER_PROMTOOL")
	if bin == "" {
		t.Log("no promtool (PROBE_EXPORTER_PROMTOOL): the routes panel not run")
		return
	}
	expr = strings.NewReplacer("$instance", ".*", "$target", ".*", "$namespace", ".*").Replace(expr)
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "routes.yml"), fmt.Sprintf("groups:\n  - name: panel\n    rules:\n      - record: panel:routes\n        expr: %q\n", expr))
	writeConfig(t, filepath.Join(dir, "routes.test.yml"), `rule_files: [routes.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'probe_state{kind="readiness",target="edge",instance="a",namespace="shop",ingress="web",path="/",service="web",address="lb:80"}'
        values: '0x3'
      - series: 'probe_state{kind="readiness",target="gw",instance="a",namespace="shop",httproute="api",path="/api",service="api",address="gw:80"}'
        values: '1x3'
      - series: 'probe_state{kind="readiness",target="eps",instance="a",namespace="shop",service="web",ready="true",address="10.0.0.1:80"}'
        values: '1x3'
      - series: 'probe_state{kind="readiness",target="eps",instance="a",namespace="shop",service="api",ready="true",address="10.0.0.2:80"}'
        values: '1x3'
      - series: 'probe_state{kind="readiness",target="eps",instance="a",namespace="shop",service="api",ready="true",address="10.0.0.3:80"}'
        values: '0x3'
    promql_expr_test:
      - expr: panel:routes
        eval_time: 2m
        exp_samples:
          - labels: 'panel:routes{namespace="shop",ingress="web",path="/",service="web",backends="all pass"}'
            value: 0
          - labels: 'panel:routes{namespace="shop",httproute="api",path="/api",service="api",backends="some fail"}'
            value: 1
`)
	cmd := exec.Command(bin, "test", "rules", "routes.test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool: the routes panel: %v\n%s", err, out)
	}
}
