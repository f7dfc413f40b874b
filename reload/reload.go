// Package reload applies configurations — at start, on SIGHUP, on POST
// /-/reload, and when the file's content changes (--config.auto-reload) —
// and says how the last one went in metrics, as Prometheus does: a
// configuration that fails to load or apply keeps the running one.
package reload

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
)

// Options configure a Reloader.
type Options struct {
	Logger *slog.Logger
	// Path is the configuration file whose content Watch compares; empty
	// for the embedded default (nothing to watch).
	Path string
	// Load reads the configuration; Apply makes it the running one.
	Load  func() (*config.Config, error)
	Apply func(*config.Config) error
}

// Reloader loads and applies configurations one at a time.
type Reloader struct {
	o Options

	mu      sync.Mutex
	sum     [sha256.Size]byte // the content last loaded (or failed to)
	summed  bool
	success prometheus.Gauge
	last    prometheus.Gauge
}

// New makes a Reloader and registers its metrics.
func New(o Options, reg prometheus.Registerer) *Reloader {
	r := &Reloader{o: o,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or kept the previous configuration (0).",
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
	}
	reg.MustRegister(r.success, r.last)
	return r
}

// Start applies the configuration loaded at start (already read and
// validated by the caller, so that a bad one stops the process).
func (r *Reloader) Start(cfg *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The file may change between the caller's load and here: the first
	// Watch tick then sees a new sum and reloads, which is what we want.
	r.sum, r.summed = r.contentSum()
	return r.apply(cfg)
}

// Reload loads the configuration again and applies it; on any error the
// running configuration stays, and the metric and the log say so.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The sum is taken before the load: if the file changes in between,
	// Watch sees a sum it has not loaded and loads again.
	r.sum, r.summed = r.contentSum()
	cfg, err := r.o.Load()
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.o.Logger.Error("configuration reload failed; keeping the previous configuration", "err", err)
		return err
	}
	r.o.Logger.Info("configuration reloaded", "target_entries", len(cfg.Targets))
	return nil
}

func (r *Reloader) apply(cfg *config.Config) error {
	if err := r.o.Apply(cfg); err != nil {
		r.success.Set(0)
		return err
	}
	r.success.Set(1)
	r.last.SetToCurrentTime()
	return nil
}

// Watch reloads whenever the file's content differs from what was last
// loaded, checking every interval until ctx ends. The path is read
// through its symlinks, so a Kubernetes ConfigMap volume's swap of ..data
// to a new directory is seen. Content, not modification times: a save of
// the same bytes is no change, and a copy that keeps its mtime (or a
// coarse clock) still is one. A content that failed is not retried until
// it changes again (or SIGHUP).
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	if r.o.Path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.changed() {
			r.o.Logger.Info("configuration file changed; reloading", "file", r.o.Path)
			_ = r.Reload()
		}
	}
}

// changed says whether the file now holds a content other than the one
// last loaded. A file that can't be read (mid-swap, or gone for now) has
// not changed: the next check sees.
func (r *Reloader) changed() bool {
	sum, ok := r.contentSum()
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.summed || sum != r.sum
}

// contentSum is the sum of the file's content, read as Load reads it
// (through symlinks), and whether it could be read.
func (r *Reloader) contentSum() ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	if r.o.Path == "" {
		return sum, false
	}
	f, err := config.OpenFile(r.o.Path)
	if err != nil {
		return sum, false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, config.MaxFileSize+1)); err != nil {
		return sum, false
	}
	copy(sum[:], h.Sum(nil))
	return sum, true
}
