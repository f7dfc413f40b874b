package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestReplicasView: three replicas of the real binary find each other
// through the real API server (their pods, by the workload's labels) and
// each answers for all with scope=all — every replica's rows, marked with
// its observer; when one stops mid-way, the others' view names it as not
// answering within the timeout, and keeps their own rows.
func TestReplicasView(t *testing.T) {
	kubetest.RequireNetns(t)
	c := kubetest.Start(t)
	c.Apply(t, "../../examples/kubernetes/rbac.yaml") // the monitoring namespace; list on pods
	kubeconfig := c.Kubeconfig(t, "exporter")
	names := []string{"pe-a", "pe-b", "pe-c"}
	ips := []string{"192.0.2.63", "192.0.2.64", "192.0.2.65"}
	labels := map[string]string{"app.kubernetes.io/name": "probe-exporter", "app.kubernetes.io/instance": "replicas-test"}
	for i, name := range names {
		runningPod(t, c.Client, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "monitoring", Labels: labels},
			Spec:       corev1.PodSpec{NodeName: "node-" + name, Containers: []corev1.Container{{Name: "probe-exporter", Image: "probe-exporter:test"}}},
		}, ips[i], nil)
	}
	exporters := make([]*exporter, len(names))
	for i, name := range names {
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		// Each replica probes something of its own: its rows tell who saw what.
		writeConfig(t, cfg, fmt.Sprintf("targets:\n  - name: seen-by-%s\n    static: [{host: 127.0.0.1, port: 1}]\n    readinessProbe: {tcpSocket: {}, periodSeconds: 1}\n", name))
		exporters[i] = start(t, "--config.file="+cfg, "--web.listen-address="+ips[i]+":9878", "--kubeconfig="+kubeconfig,
			"--web.replicas.kubernetes-selector=app.kubernetes.io/name=probe-exporter,app.kubernetes.io/instance=replicas-test",
			"--web.replicas.namespace=monitoring", "--web.replicas.self="+name, "--web.replicas.timeout=1s")
	}
	type view struct {
		Data []struct {
			Target, Observer string
		} `json:"data"`
		Replicas []struct {
			Name     string
			Answered bool
			Error    string
		} `json:"replicas"`
	}
	ask := func(e *exporter) (view, time.Duration) {
		t.Helper()
		began := time.Now()
		res, err := http.Get(e.url + "/api/v1/targets?scope=all")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v view
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v, time.Since(began)
	}
	rows := func(v view) string {
		var out []string
		for _, r := range v.Data {
			out = append(out, r.Observer+":"+r.Target)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	silent := func(v view) []string {
		var out []string
		for _, r := range v.Replicas {
			if !r.Answered {
				out = append(out, r.Name)
			}
		}
		return out
	}
	all := "pe-a:seen-by-pe-a,pe-b:seen-by-pe-b,pe-c:seen-by-pe-c"
	for _, e := range exporters {
		await.True(t, "every replica's rows from "+e.url, func() bool { v, _ := ask(e); return rows(v) == all && len(silent(v)) == 0 })
	}

	// pe-c stops mid-way (its pod still listed, as until the kubelet
	// notices): the others name it, within the timeout, and keep theirs.
	_ = exporters[2].cmd.Process.Signal(syscall.SIGTERM)
	<-exporters[2].done
	v, took := ask(exporters[0])
	if got := rows(v); got != "pe-a:seen-by-pe-a,pe-b:seen-by-pe-b" {
		t.Errorf("with pe-c down: rows %s", got)
	}
	if s := silent(v); len(s) != 1 || s[0] != "pe-c" {
		t.Errorf("not answering: %v, want pe-c (%+v)", s, v.Replicas)
	}
	if took > 3*time.Second {
		t.Errorf("the view took %v with a replica down and a 1s timeout", took)
	}
	// The page says the same.
	res, err := http.Get(exporters[1].url + "/targets?scope=all")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	page, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-observer="pe-a"`, `data-observer="pe-b"`, "not answering: pe-c"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// As a user sees it, in the real Chromium: kept as the test's artifact.
	if bin := os.Getenv("PROBE_EXPORTER_CHROMIUM"); bin != "" {
		browser, stop := openBrowser(t, bin)
		defer stop()
		err := chromedp.Do(browser, chromedp.Navigate(exporters[1].url+"/targets?scope=all"), chromedp.WaitVisible(chromedp.CSS("#replicas")))
		var shot []byte
		if err == nil {
			shot, err = chromedp.Run(browser, chromedp.FullScreenshot(100))
		}
		if err != nil {
			t.Fatalf("the merged page in the browser: %v", err)
		}
		if problems := stop(); len(problems) > 0 {
			t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
		}
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "targets-all-replicas.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}
