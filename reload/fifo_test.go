//go:build unix

package reload

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
)

// TestFIFOAtConfigFile: a FIFO at the configuration path is refused at
// once, by the load and by the watch's content check; it doesn't hold the
// reloader, and once a regular file replaces it, a reload applies it (a
// load blocked in open, holding the lock, hung every later reload until a
// restart).
func TestFIFOAtConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var mu sync.Mutex
	var got []string
	apply := func(c *config.Config) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range c.Targets {
			got = append(got, e.Name)
		}
		return nil
	}
	r := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Path: path,
		Load: func(data []byte) (*config.Config, error) { return config.Parse(data, path) }, Apply: apply}, prometheus.NewRegistry())
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			// Unblock every open of it, so that the test can end.
			for {
				if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				select {
				case <-done:
					t.Fatalf("%s blocked on the FIFO", what)
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
	within("a reload", func() {
		if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("reload of a FIFO: %v", err)
		}
	})
	within("the watch's check", func() {
		if r.changed() {
			t.Error("a FIFO counts as a change")
		}
	})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(entry("after")), 0o600); err != nil {
		t.Fatal(err)
	}
	within("a reload of the file that replaced it", func() {
		if err := r.Reload(); err != nil {
			t.Errorf("reload: %v", err)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "after" {
		t.Errorf("applied %v", got)
	}
}
