package reload

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/internal/await"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func entry(name string) string {
	return fmt.Sprintf("targets:\n  - name: %s\n    static: [{host: 127.0.0.1, port: 1}]\n    readinessProbe: {tcpSocket: {}}\n", name)
}

// applied records what was applied.
type applied struct {
	mu    sync.Mutex
	names []string
}

func (a *applied) apply(c *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.names = append(a.names, c.Targets[0].Name)
	return nil
}

func (a *applied) get() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.names...)
}

// TestWatch: a ConfigMap-style symlink swap reloads; the same content
// does not; a bad content keeps the running configuration, says so in
// the metric, and is not retried until it changes; Watch ends with its
// context.
func TestWatch(t *testing.T) {
	cm := kubetest.NewConfigMapVolume(t, "config.yaml", entry("a"))
	a := &applied{}
	reg := prometheus.NewRegistry()
	r := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Path: cm.Path(),
		Load: func() (*config.Config, error) { return config.Load(cm.Path()) }, Apply: a.apply}, reg)
	cfg, err := config.Load(cm.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(cfg); err != nil {
		t.Fatal(err)
	}
	loads := 0
	countingLoad := r.o.Load
	r.o.Load = func() (*config.Config, error) { loads++; return countingLoad() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Watch(ctx, 10*time.Millisecond) }()

	cm.Update(entry("b"))
	await.True(t, "b applied", func() bool { return len(a.get()) == 2 && a.get()[1] == "b" })
	if v := testutil.ToFloat64(r.success); v != 1 {
		t.Errorf("successful %v", v)
	}
	// The same content in a new version: nothing to do.
	cm.Update(entry("b"))
	if r.changed() {
		t.Error("the same content counts as a change")
	}
	cm.Update("targets: [{name: bad, static: [{host: 127.0.0.1}], readinessProbe: {tcpSocket: {port: 0}}}]\n")
	await.True(t, "the bad config reported", func() bool { return testutil.ToFloat64(r.success) == 0 })
	r.mu.Lock()
	afterBad := loads
	r.mu.Unlock()
	cm.Update(entry("c"))
	await.True(t, "c applied", func() bool { return len(a.get()) == 3 && a.get()[2] == "c" })
	r.mu.Lock()
	if loads != afterBad+1 {
		t.Errorf("%d loads after the bad config, want 1: a failed content was retried", loads-afterBad)
	}
	r.mu.Unlock()
	if got := a.get(); len(got) != 3 {
		t.Errorf("applied %v, want [a b c]", got)
	}
	if v := testutil.ToFloat64(r.success); v != 1 {
		t.Errorf("successful %v after a good config", v)
	}
	cancel()
	<-done
}

// TestNoPath: the embedded default has no file to watch.
func TestNoPath(t *testing.T) {
	r := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, prometheus.NewRegistry())
	r.Watch(context.Background(), time.Millisecond) // returns at once
}
