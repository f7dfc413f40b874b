package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
	dto "github.com/prometheus/client_model/go"
)

// processesWith lists live processes whose environment contains marker,
// but those in except (the exporter itself).
func processesWith(marker string, except ...int) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err != nil || slices.Contains(except, pid) {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !strings.Contains(string(env), marker) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] != "Z" {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// TestShutdownLeavesNoProcess: SIGTERM with 300 exec probes running (each
// ignoring TERM, one per target also daemonized out of its process group)
// and a client that sent half a request: the exporter exits within its
// budget and leaves nothing running. Before, shutdown spent the budget
// draining the listener and then exited with probes still running.
func TestShutdownLeavesNoProcess(t *testing.T) {
	const n = 300
	// The marker reaches the commands through --probe.exec.env, which
	// this also tests: nothing else of our environment would.
	marker := fmt.Sprintf("probe-exporter-shutdown-%d", os.Getpid())
	t.Setenv("SHUTDOWN_TEST_MARKER", marker)
	dir := t.TempDir()
	var hosts strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&hosts, "      - {host: h%d}\n", i)
	}
	cfg := filepath.Join(dir, "config.yaml")
	// Each command: a daemon out of the group, then a TERM-ignoring wait.
	// $$ is an escaped $ in $(VAR) expansion, hence $$$$ for the shell.
	writeConfig(t, cfg, fmt.Sprintf(`
targets:
  - name: slow
    static:
%s    livenessProbe:
      exec:
        command: [/bin/sh, -c, 'trap "" TERM; setsid sleep 60 </dev/null >/dev/null 2>&1 & sleep 60']
      timeoutSeconds: 120
      periodSeconds: 1
`, hosts.String()))
	e := start(t, "--config.file="+cfg, "--log.level=info", "--probe.exec.env=SHUTDOWN_TEST_MARKER")
	e.eventually(t, fmt.Sprintf("%d exec probes in flight", n), func(mfs map[string]*dto.MetricFamily) bool {
		v, _ := value(mfs, "probe_exporter_probes_in_flight", nil)
		return v == n
	}, nil)
	t.Cleanup(func() {
		for _, p := range processesWith(marker) {
			var pid int
			fmt.Sscanf(p, "%d", &pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// Each probe: its shell, its sleep and the daemon (which its shell
	// starts a moment after the probe is in flight).
	await.True(t, fmt.Sprintf("%d probe processes", 3*n), func() bool { return len(processesWith(marker)) >= 3*n })
	// Half a request on the listener: Shutdown would wait for it.
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}

	sent := time.Now()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	took := time.Since(sent)
	// The budget is 2 s; a generous margin for the race detector on two
	// cores (this asserts "within its budget", not a speed figure).
	if took > 4*time.Second {
		t.Errorf("exit took %v after SIGTERM, budget 2 s", took)
	}
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("%d processes outlived the exporter, e.g. %s", len(left), left[0])
	}
	t.Logf("exited %v after SIGTERM; %s", took.Round(time.Millisecond), strings.Join(regexp.MustCompile(`msg="?(probing stopped|stopped)"? took=\S+`).FindAllString(e.log(), -1), ", "))
}
