// Package reload applies configurations — at start, on SIGHUP, on POST
// /-/reload, and when the file's content changes (--config.auto-reload) —
// and says how the last one went in metrics, as Prometheus does: a
// configuration that fails to load or apply keeps the running one.
package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
)

// Options configure a Reloader.
type Options struct {
	Logger *slog.Logger
	// Path is the configuration file; empty for the embedded default
	// (nothing to read or watch).
	Path string
	// Load makes a configuration of the file's content (nil without a
	// Path); Apply makes it the running one.
	Load  func(data []byte) (*config.Config, error)
	Apply func(*config.Config) error
	// Wait is how long a reload waits for one already loading before it
	// gives up with ErrBusy (default DefaultWait).
	Wait time.Duration
}

// DefaultWait bounds a reload's wait for the one before it: a 16 MiB
// file loads in about 10 s; what takes longer is stuck (a read from a
// hung network file system), and its callers get an answer.
const DefaultWait = time.Minute

// ErrBusy is a reload that found another still loading after Wait.
var ErrBusy = errors.New("another reload is still loading the configuration; try again later")

// Reloader loads and applies configurations one at a time, and coalesces
// reloads asked for while one loads into the next load. Its lock is never
// held across reading, decoding or applying: a read that blocks holds
// only the load slot, which others wait for with a bound.
type Reloader struct {
	o Options
	// slot is held by the one load running; requests counts the reloads
	// asked for.
	slot     chan struct{}
	requests atomic.Uint64

	mu sync.Mutex
	// covered is the request count when the last finished load began:
	// every reload asked for before that was answered by it (it read the
	// file after they asked), with lastErr.
	covered uint64
	lastErr error
	// ended and failed are when the last load ended and its error (nil:
	// what it loaded runs), for Last.
	ended   time.Time
	failed  error
	sum     [sha256.Size]byte // the content last loaded (or failed to)
	summed  bool
	success prometheus.Gauge
	last    prometheus.Gauge
}

// New makes a Reloader and registers its metrics.
func New(o Options, reg prometheus.Registerer) *Reloader {
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	r := &Reloader{o: o, slot: make(chan struct{}, 1),
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
	// The file may change between the caller's load and here: the first
	// Watch tick then sees a new sum and reloads, which is what we want.
	sum, ok := r.contentSum()
	r.slot <- struct{}{}
	defer func() { <-r.slot }()
	r.mu.Lock()
	r.sum, r.summed = sum, ok
	r.mu.Unlock()
	err := r.apply(cfg)
	r.end(err)
	return err
}

// Reload loads the configuration again and applies it; on any error the
// running configuration stays, and the metric and the log say so. A
// reload asked for while another loads waits for it, then is answered by
// the next load to begin (one load for any number of waiting requests),
// or gives up with ErrBusy after Wait.
func (r *Reloader) Reload() error {
	asked := r.requests.Add(1)
	wait := time.NewTimer(r.o.Wait)
	defer wait.Stop()
	select {
	case r.slot <- struct{}{}:
	case <-wait.C:
		r.o.Logger.Error("configuration reload not done: another is still loading", "waited", r.o.Wait)
		return ErrBusy
	}
	defer func() { <-r.slot }()
	r.mu.Lock()
	if r.covered >= asked {
		// A load that began after this request finished while it waited.
		err := r.lastErr
		r.mu.Unlock()
		return err
	}
	r.mu.Unlock()
	began := r.requests.Load()
	err := r.load()
	r.mu.Lock()
	r.covered, r.lastErr = began, err
	r.mu.Unlock()
	return err
}

// load reads, decodes and applies the file, holding the slot.
func (r *Reloader) load() error {
	var data []byte
	var err error
	if r.o.Path != "" {
		data, err = config.ReadFile(r.o.Path)
		// The sum is of the bytes loaded: Watch compares the file with
		// exactly what was loaded (or failed to).
		r.mu.Lock()
		r.sum, r.summed = sha256.Sum256(data), err == nil
		r.mu.Unlock()
	}
	var cfg *config.Config
	if err == nil {
		cfg, err = r.o.Load(data)
	}
	if err == nil {
		err = r.apply(cfg)
	}
	r.end(err)
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

// end records how a load ended, for Last.
func (r *Reloader) end(err error) {
	r.mu.Lock()
	r.ended, r.failed = time.Now(), err
	r.mu.Unlock()
}

// Last is how the last load ended: when, and its error (nil: the
// configuration it loaded is the running one). The status page shows a
// failed reload with it.
func (r *Reloader) Last() (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended, r.failed
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
