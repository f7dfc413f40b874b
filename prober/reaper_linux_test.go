package prober

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
)

func reaperProbe(t *testing.T, r *Reaper, timeout time.Duration, argv ...string) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p := &execProber{command: argv, timeout: timeout, base: execBase(nil), reaper: r}
	return p.Probe(ctx, &Target{Host: "127.0.0.1"})
}

func readPid(t *testing.T, file string) string {
	t.Helper()
	var pid string
	await.True(t, "the pid file", func() bool {
		b, err := os.ReadFile(file)
		pid = strings.TrimSpace(string(b))
		return err == nil && pid != ""
	})
	return pid
}

// (Commands write $$$$: $$ is an escaped $ in $(VAR) expansion.)
//
// TestReaperKillsEscapedDescendants: a command that daemonizes out of its
// process group (setsid) is re-parented to us, left alone while its probe
// runs, killed and reaped once the probe has ended.
func TestReaperKillsEscapedDescendants(t *testing.T) {
	r, err := StartReaper()
	if err != nil {
		t.Skipf("no child subreaper here: %v", err)
	}
	defer r.Stop()

	t.Run("after the probe", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		o := reaperProbe(t, r, 5*time.Second, "/bin/sh", "-c",
			fmt.Sprintf(`setsid sh -c 'echo $$$$ > %s; exec sleep 30' </dev/null >/dev/null 2>&1 & while [ ! -s %[1]s ]; do sleep 0.01; done; echo started`, pidFile))
		if o.Result != Success {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		pid := readPid(t, pidFile)
		await.True(t, "the daemonized "+pid+" to be killed and reaped", func() bool {
			_, err := os.Stat("/proc/" + pid)
			return os.IsNotExist(err)
		})
	})
	t.Run("not while its probe runs", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		// The subshell exits at once, so the daemon is re-parented to us
		// while the probe still runs; a sweep (at the latest the 1 s
		// backstop) must leave it alone.
		o := reaperProbe(t, r, 5*time.Second, "/bin/sh", "-c",
			fmt.Sprintf(`(setsid sh -c 'echo $$$$ > %s; exec sleep 30' </dev/null >/dev/null 2>&1 &); sleep 1.5; kill -0 $(cat %[1]s) && echo alive`, pidFile))
		if o.Result != Success || o.Output != "alive\n" {
			t.Fatalf("the daemon should live while its probe runs: got %v %q", o.Result, o.Output)
		}
		pid := readPid(t, pidFile)
		await.True(t, "the daemon "+pid+" to go with its probe", func() bool {
			_, err := os.Stat("/proc/" + pid)
			return os.IsNotExist(err)
		})
	})
	t.Run("orphaned zombies are reaped", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		// A grandchild whose parent (a subshell) is gone is re-parented to
		// us; when it exits by itself it is our zombie and must be reaped,
		// not left (PID 1's duty). The probe outlives it, so that it is
		// its own exit and not the end of the probe that ends it.
		o := reaperProbe(t, r, 5*time.Second, "/bin/sh", "-c",
			fmt.Sprintf(`(setsid sh -c 'sleep 0.1; echo $$$$ > %s' </dev/null >/dev/null 2>&1 &); while [ ! -s %[1]s ]; do sleep 0.01; done; sleep 0.2`, pidFile))
		if o.Result != Success {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		pid := readPid(t, pidFile)
		await.True(t, "the exited "+pid+" to be reaped", func() bool {
			_, err := os.Stat("/proc/" + pid)
			return os.IsNotExist(err)
		})
	})
	if killed, reaped := r.Counts(); killed < 2 || reaped < 3 {
		t.Errorf("counts: killed %d (want at least 2), reaped %d (want at least 3)", killed, reaped)
	}
}

// TestExecEnvironment: a command gets PATH, its PROBE_* variables, its
// attempt token and the variables it was told to pass; nothing else of
// the exporter's environment (it may hold credentials).
func TestExecEnvironment(t *testing.T) {
	t.Setenv("PROBE_EXPORTER_TEST_SECRET", "hunter2")
	t.Setenv("PROBE_EXPORTER_TEST_PASSED", "yes")
	p := &execProber{command: []string{"/usr/bin/env"}, timeout: 5 * time.Second, base: execBase([]string{"PROBE_EXPORTER_TEST_PASSED", "UNSET_VARIABLE"})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o := p.Probe(ctx, &Target{Host: "h", Vars: map[string]string{"PROBE_HOST": "h"}})
	if o.Result != Success {
		t.Fatalf("got %v %q", o.Result, o.Output)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(o.Output), "\n") {
		names = append(names, strings.SplitN(line, "=", 2)[0])
	}
	slices.Sort(names)
	if want := []string{"PATH", "PROBE_EXPORTER_TEST_PASSED", "PROBE_HOST"}; !slices.Equal(names, want) {
		t.Errorf("environment names %v, want %v", names, want)
	}
	if strings.Contains(o.Output, "hunter2") {
		t.Errorf("the exporter's environment leaked into the command: %q", o.Output)
	}
}
