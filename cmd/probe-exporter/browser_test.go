package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"

	"github.com/probe-exporter/probe-exporter/internal/faults"
)

// TestTargetsPageInBrowser loads /targets of the running binary in a real
// headless Chromium: no console errors, the right rows, the failing
// target first with its reason, the filter form works (a form submit is
// a new request: no JavaScript needed), the page refreshes itself in
// place (JavaScript: scroll and filter kept), and a screenshot is kept
// as the test's artifact.
func TestTargetsPageInBrowser(t *testing.T) {
	bin := os.Getenv("PROBE_EXPORTER_CHROMIUM")
	if bin == "" {
		t.Skip("no Chromium: PROBE_EXPORTER_CHROMIUM is not set; run `make test`, or `eval \"$(hack/test-binaries.sh)\"` first")
	}
	up := faults.Reply(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	down := faults.Reply(t, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
	_, upPort, _ := net.SplitHostPort(up)
	_, downPort, _ := net.SplitHostPort(down)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: web
    static: [{host: 127.0.0.1, port: %s}]
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1}
  - name: api
    static: [{host: 127.0.0.1, port: %s, labels: {team: payments}}]
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1, failureThreshold: 1}
  - name: many
    static: [{host: 127.0.0.2}, {host: 127.0.0.3}, {host: 127.0.0.4}, {host: 127.0.0.5}, {host: 127.0.0.6}]
    readinessProbe: {tcpSocket: {port: %[1]s}, periodSeconds: 60}
`, upPort, downPort))
	e := start(t, "--config.file="+cfg)
	e.eventually(t, "web passing", stateIs(map[string]string{"target": "web"}, 1), nil)
	e.eventually(t, "api failing", stateIs(map[string]string{"target": "api"}, 0), nil)
	// Enough attempts for a latency line to draw.
	e.eventually(t, "web probed three times", func(mfs map[string]*dto.MetricFamily) bool {
		n, _ := value(mfs, "probe_results_total", map[string]string{"target": "web", "result": "success"})
		return n >= 3
	}, nil)

	// An entry asked for by name: the running configuration's, or 404.
	for path, want := range map[string]int{"/api/v1/targets/many": 200, "/api/v1/targets/nosuch": 404} {
		res, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
		}
	}

	browser, stopBrowser := openBrowser(t, bin)
	defer stopBrowser()
	rows := chromedp.Evaluate[[]string](`[...document.querySelectorAll("#targets tr.row")].map(r => r.dataset.target + " " + r.dataset.state)`)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("loading /targets", chromedp.Do(browser, chromedp.Navigate(e.url+"/targets"), chromedp.WaitVisible(chromedp.CSS("#targets"))))
	all, err := chromedp.Run(browser, rows)
	step("reading the rows", err)
	reason, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS(`tr.row[data-target="api"] td.reason`)))
	step("reading the reason", err)
	// Each probed row's latency sparkline is drawn: a line for web (three
	// or more attempts), a red dot on each of api's failures.
	spark, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](`["web", "api"].flatMap(t => {
		const svg = document.querySelector('tr.row[data-target="' + t + '"] td.strip svg.spark'), box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
		return [box.width, box.height, svg ? svg.querySelectorAll("polyline").length : -1, svg ? ((svg.querySelector('path[stroke="#d43a3a"]') || {getAttribute: () => ""}).getAttribute("d").match(/M/g) || []).length : -1];
	})`))
	step("reading the sparklines", err)
	// The whole table fits the 1,280-pixel window: no sideways scrolling.
	width, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	step("measuring the page", err)
	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100)) // quality 100: PNG
	step("taking a screenshot", err)
	// The filter form, as a user submits it: a new page loads.
	step("choosing a state", chromedp.Do(browser, chromedp.SetValue(chromedp.CSS(`select[name="state"]`), "failure")))
	res, err := chromedp.RunResponse(browser, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	step("submitting the filter", err)
	if res.Status != 200 || !strings.Contains(res.URL, "state=failure") {
		t.Errorf("the form loaded %s (%d)", res.URL, res.Status)
	}
	failing, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#targets tr.row")].map(r => r.dataset.target)`))
	step("reading the filtered rows", err)
	// A filtered, paged view clicked through as a user does: "next" keeps
	// the filter, and "as JSON" is the same view.
	addresses := chromedp.Evaluate[[]string](`[...document.querySelectorAll("#targets tr.row")].map(r => r.dataset.target + " " + r.dataset.address)`)
	step("loading a filtered page", chromedp.Do(browser, chromedp.Navigate(e.url+"/targets?target=many&limit=2"), chromedp.WaitVisible(chromedp.CSS("#targets"))))
	firstPage, err := chromedp.Run(browser, addresses)
	step("reading the first page", err)
	res, err = chromedp.RunResponse(browser, chromedp.Click(chromedp.CSS(`#next`)))
	step("clicking next", err)
	nextURL := res.URL
	secondPage, err := chromedp.Run(browser, addresses)
	step("reading the second page", err)
	res, err = chromedp.RunResponse(browser, chromedp.Click(chromedp.CSS(`#json`)))
	step("clicking as JSON", err)
	jsonURL := res.URL
	asJSON, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.body.innerText`))
	step("reading the JSON", err)
	// Refreshing itself with JavaScript: the same document (no reload),
	// scrolled where the user left it, its filter still chosen, with a
	// newer render and fresh rows.
	step("loading a refreshing page", chromedp.Do(browser, chromedp.EmulateViewport(1280, 300), chromedp.Navigate(e.url+"/targets?state=failure&refresh=5"),
		chromedp.WaitVisible(chromedp.CSS("#targets"))))
	before, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.scrollTo(0, 120); window.kept = "yes";
		document.getElementById("targets").dataset.old = "1"; document.querySelector("#summary time").getAttribute("datetime")`))
	step("marking the page", err)
	step("awaiting the refresh", chromedp.Do(browser, chromedp.Poll[chromedp.Void](`!document.getElementById("targets").dataset.old`, chromedp.WithPollingTimeout(20*time.Second))))
	after, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`[window.kept, String(window.scrollY), document.querySelector('select[name="state"]').value,
		document.querySelector("#summary time").getAttribute("datetime"), String(document.querySelectorAll("#targets tr.row").length)]`))
	step("reading the refreshed page", err)
	problems := stopBrowser()
	if after[0] != "yes" || after[1] != "120" || after[2] != "failure" || after[3] == before || after[4] != "6" {
		t.Errorf("after a refresh: kept %s, scrollY %s, state %s, rendered %s (before %s), %s rows; want the same page, scroll and filter, a newer render, 6 rows",
			after[0], after[1], after[2], after[3], before, after[4])
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "targets.png"), shot, 0o644); err != nil {
		t.Error(err)
	}
	if strings.Join(all, ",") != "api failure,many failure,many failure,many failure,many failure,many failure,web success" {
		t.Errorf("rows %v, want the failing api and many first, then web", all)
	}
	if got := strings.Join(firstPage, ","); got != "many 127.0.0.2:"+upPort+",many 127.0.0.3:"+upPort {
		t.Errorf("the first page of many: %s", got)
	}
	if got := strings.Join(secondPage, ","); got != "many 127.0.0.4:"+upPort+",many 127.0.0.5:"+upPort || !strings.HasSuffix(nextURL, "/targets?limit=2&offset=2&target=many") {
		t.Errorf("next loaded %s: %s, want the second page of many", nextURL, got)
	}
	var api struct {
		Data []struct {
			Target, Address string
		} `json:"data"`
		Total, Offset, Limit int
	}
	if err := json.Unmarshal([]byte(asJSON), &api); err != nil || !strings.HasSuffix(jsonURL, "/api/v1/targets?limit=2&offset=2&target=many") ||
		api.Total != 5 || api.Offset != 2 || api.Limit != 2 || len(api.Data) != 2 || api.Data[0].Address != "127.0.0.4:"+upPort {
		t.Errorf("as JSON loaded %s: %v %+v", jsonURL, err, api)
	}
	if len(spark) != 8 || spark[0] != 120 || spark[1] != 20 || spark[2] != 1 || spark[3] != 0 || spark[4] != 120 || spark[7] < 1 {
		t.Errorf("sparklines (web: width, height, lines, red dots; api: the same) %v, want web 120×20 with a line and no red dot, api with red dots", spark)
	}
	if width > 1280 {
		t.Errorf("the page is %d pixels wide in a 1280-pixel window", width)
	}
	if !strings.Contains(reason, "HTTP probe failed with statuscode: 503") {
		t.Errorf("the failing row's reason: %q", reason)
	}
	if strings.Join(failing, ",") != "api,many,many,many,many,many" {
		t.Errorf("filtered rows %v", failing)
	}
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
	}
}

// openBrowser starts a headless Chromium for a test, with the flags this
// machine's closed network wants (nothing of Chromium's own reaches
// out); stop ends it and returns every console error, warning and
// exception the pages reported (calling it again returns the same).
func openBrowser(t *testing.T, bin string) (context.Context, func() []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	alloc, stopAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))...)
	browser, stopBrowser := chromedp.NewContext(alloc)
	var problems []string
	messages := chromedp.Console(browser)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				problems = append(problems, m.String()+" "+m.URL)
			}
		}
	}()
	var once sync.Once
	return browser, func() []string {
		once.Do(func() {
			stopBrowser()
			<-collected
			stopAlloc()
			cancel()
		})
		return problems
	}
}
