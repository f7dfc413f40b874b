package state

import (
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

// TestGate: the kubelet worker's checks before a probe (worker.go doProbe
// and its worker_test.go cases: TestInitialDelay, TestStartupProbe*,
// on hold after a startup success), one table.
func TestGate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		g    Gate
		want Verdict
	}{
		{"no delay, no startup probe", Gate{Kind: probe.Readiness, Started: true}, Run},
		{"within the initial delay", Gate{Kind: probe.Liveness, Age: 9 * time.Second, InitialDelaySeconds: 10, Started: true}, Skip},
		{"the delay counts whole seconds", Gate{Kind: probe.Liveness, Age: 9999 * time.Millisecond, InitialDelaySeconds: 10, Started: true}, Skip},
		{"past the initial delay", Gate{Kind: probe.Liveness, Age: 10 * time.Second, InitialDelaySeconds: 10, Started: true}, Run},
		{"liveness waits for startup", Gate{Kind: probe.Liveness, Age: time.Hour}, Skip},
		{"readiness waits for startup", Gate{Kind: probe.Readiness, Age: time.Hour}, Skip},
		{"startup runs before it succeeds", Gate{Kind: probe.Startup}, Run},
		{"startup's own delay", Gate{Kind: probe.Startup, Age: time.Second, InitialDelaySeconds: 5}, Skip},
		{"startup done: on hold", Gate{Kind: probe.Startup, OnHold: true, Started: true}, Hold},
		{"on hold before the delay", Gate{Kind: probe.Startup, OnHold: true, InitialDelaySeconds: 100}, Hold},
	} {
		if got := c.g.Decide(); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
