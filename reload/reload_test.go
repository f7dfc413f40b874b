package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
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
		Load: func(data []byte) (*config.Config, error) { return config.Parse(data, cm.Path()) }, Apply: a.apply}, reg)
	cfg, err := config.Load(cm.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(cfg); err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int32
	countingLoad := r.o.Load
	r.o.Load = func(data []byte) (*config.Config, error) { loads.Add(1); return countingLoad(data) }
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
	afterBad := loads.Load()
	if at, err := r.Last(); err == nil || at.IsZero() {
		t.Errorf("Last after the bad config: %v %v", at, err)
	}
	cm.Update(entry("c"))
	await.True(t, "c applied", func() bool { return len(a.get()) == 3 && a.get()[2] == "c" })
	if n := loads.Load() - afterBad; n != 1 {
		t.Errorf("%d loads after the bad config, want 1: a failed content was retried", n)
	}
	if got := a.get(); len(got) != 3 {
		t.Errorf("applied %v, want [a b c]", got)
	}
	if v := testutil.ToFloat64(r.success); v != 1 {
		t.Errorf("successful %v after a good config", v)
	}
	if _, err := r.Last(); err != nil {
		t.Errorf("Last after a good config: %v", err)
	}
	cancel()
	<-done
}

// TestNoPath: the embedded default has no file to watch.
func TestNoPath(t *testing.T) {
	r := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, prometheus.NewRegistry())
	r.Watch(context.Background(), time.Millisecond) // returns at once
}

// TestStuckLoadHoldsNoOne: a load that doesn't return (a read from a hung
// file system) holds only the load slot. The watch's check and the
// metrics answer at once; a reload asked for meanwhile gives up with
// ErrBusy after its wait (it waited on the lock for ever before); the
// reloads asked for while it is stuck are answered by one load once it
// returns; and reloads go on after it.
func TestStuckLoadHoldsNoOne(t *testing.T) {
	cm := kubetest.NewConfigMapVolume(t, "config.yaml", entry("a"))
	a := &applied{}
	reg := prometheus.NewRegistry()
	var loads atomic.Int32
	stuck, release := make(chan struct{}), make(chan struct{})
	r := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Path: cm.Path(), Wait: 100 * time.Millisecond,
		Load: func(data []byte) (*config.Config, error) {
			if loads.Add(1) == 1 {
				close(stuck)
				<-release
			}
			return config.Parse(data, cm.Path())
		}, Apply: a.apply}, reg)
	first := make(chan error, 1)
	go func() { first <- r.Reload() }()
	<-stuck

	cm.Update(entry("b"))
	if !r.changed() {
		t.Error("the watch's check doesn't see the change")
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a reload while one is stuck: %v, want ErrBusy", err)
	}

	r.o.Wait = time.Minute // channel receive above orders this after the first Reload read it
	const waiting = 10
	errs := make(chan error, waiting)
	for range waiting {
		go func() { errs <- r.Reload() }()
	}
	await.True(t, "the reloads asked for", func() bool { return r.requests.Load() == 2+waiting })
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range waiting {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2: the stuck one, and one for the %d reloads asked for meanwhile", n, waiting)
	}
	if got := a.get(); len(got) != 2 || got[1] != "b" {
		t.Errorf("applied %v, want the stuck load's and then b", got)
	}
	cm.Update(entry("c"))
	if err := r.Reload(); err != nil || loads.Load() != 3 {
		t.Errorf("a reload after: %v, %d loads", err, loads.Load())
	}
}
