package web

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ScrapeOptions configure Scrapes.
type ScrapeOptions struct {
	// Key names what r asks for (its format and encoding), and may
	// rewrite r so that the response depends on the key alone: requests
	// with one key share renderings. It must have few distinct values.
	Key func(r *http.Request) string
	// MaxAge is how old a finished rendering may be and still be served
	// to a new request. Zero (the default): none is; requests share only
	// a rendering that is in progress when they arrive, so what a scrape
	// shows is never older than that (a scrape right after a reload sees
	// it).
	MaxAge time.Duration
	// WriteTimeout bounds a request from its start to its last byte when
	// it carries no X-Prometheus-Scrape-Timeout-Seconds; default 30 s.
	WriteTimeout time.Duration
	// Now is the clock renderings are aged by; default time.Now.
	Now func() time.Time
}

// maxHeld is how many renderings of one key may still be being written
// to slow clients; a newer one cuts the writers of the oldest off, so
// slow clients can't pile renderings up in memory.
const maxHeld = 2

// maxWriteTimeout caps what a scrape timeout header can ask for.
const maxWriteTimeout = 2 * time.Minute

// Scrapes serves h (a /metrics handler) so that no client can hold it:
// h runs once per key at a time, detached from any client, into memory;
// requests that arrive while it runs (or within MaxAge after) get that
// same rendering; each request writes it out under its own deadline (its
// scrape timeout). A client that stops reading costs its own connection
// and a share of one rendering, never a slot that others wait for.
func Scrapes(h http.Handler, o ScrapeOptions) http.Handler {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &scrapes{h: h, o: o, latest: map[string]*rendering{}, held: map[string][]*rendering{}}
	return s
}

type scrapes struct {
	h http.Handler
	o ScrapeOptions
	// render serialises renderings: they are CPU-bound, one at a time is
	// as fast overall and bounds their memory.
	render sync.Mutex

	mu     sync.Mutex
	latest map[string]*rendering
	// held lists, per key, older renderings still being written.
	held map[string][]*rendering
}

// rendering is one run of the handler, recorded.
type rendering struct {
	done   chan struct{}
	start  time.Time
	status int
	header http.Header
	body   bytes.Buffer

	// writers are the requests writing it out (under scrapes.mu).
	writers map[*http.ResponseController]struct{}
}

func (s *scrapes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Deadlines are the connection's, on the real clock; Now only ages
	// renderings.
	deadline := time.Now().Add(writeTimeout(r, s.o.WriteTimeout))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(deadline) // unsupported only in tests' recorders

	key := s.o.Key(r)
	g := s.acquire(key, r, rc)
	defer s.release(key, g, rc)

	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case <-g.done:
	case <-r.Context().Done():
		return
	case <-wait.C:
		return // past its deadline: nothing can be written any more
	}
	for k, v := range g.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(g.body.Len()))
	w.WriteHeader(g.status)
	_, _ = w.Write(g.body.Bytes())
}

// acquire returns the rendering r gets, starting one if none is fresh,
// and registers rc as one of its writers.
func (s *scrapes) acquire(key string, r *http.Request, rc *http.ResponseController) *rendering {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.latest[key]
	if g == nil || (isDone(g) && (s.o.MaxAge <= 0 || s.o.Now().Sub(g.start) > s.o.MaxAge)) {
		if g != nil && len(g.writers) > 0 {
			s.hold(key, g)
		}
		g = &rendering{done: make(chan struct{}), writers: map[*http.ResponseController]struct{}{}}
		s.latest[key] = g
		// Detached from r: the requests that share it must not lose it
		// when r's client goes away.
		go s.run(g, r.Clone(context.WithoutCancel(r.Context())))
	}
	g.writers[rc] = struct{}{}
	return g
}

// hold keeps g as one of key's renderings still being written, cutting
// the oldest one's writers off beyond maxHeld.
func (s *scrapes) hold(key string, g *rendering) {
	held := append(s.held[key], g)
	for len(held) > maxHeld {
		for w := range held[0].writers {
			_ = w.SetWriteDeadline(time.Unix(1, 0))
		}
		held = held[1:]
	}
	s.held[key] = held
}

func (s *scrapes) release(key string, g *rendering, rc *http.ResponseController) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(g.writers, rc)
	if len(g.writers) > 0 {
		return
	}
	if s.latest[key] == g {
		// Kept for requests of the next MaxAge, then let go: a rendering
		// may be large, and the next scrape is seconds away.
		if s.o.MaxAge <= 0 {
			if isDone(g) {
				delete(s.latest, key)
			}
			return
		}
		time.AfterFunc(s.o.MaxAge, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.latest[key] == g && len(g.writers) == 0 {
				delete(s.latest, key)
			}
		})
		return
	}
	held := s.held[key]
	for i, h := range held {
		if h == g {
			s.held[key] = append(held[:i:i], held[i+1:]...)
			break
		}
	}
	if len(s.held[key]) == 0 {
		delete(s.held, key)
	}
}

func (s *scrapes) run(g *rendering, r *http.Request) {
	s.render.Lock()
	defer s.render.Unlock()
	g.start = s.o.Now()
	rec := &recorder{header: http.Header{}, body: &g.body}
	s.h.ServeHTTP(rec, r)
	g.status, g.header = rec.status, rec.header
	if g.status == 0 {
		g.status = http.StatusOK
	}
	close(g.done)
}

func isDone(g *rendering) bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// writeTimeout is r's scrape timeout (Prometheus sends it), capped, or def.
func writeTimeout(r *http.Request, def time.Duration) time.Duration {
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return min(time.Duration(f*float64(time.Second)), maxWriteTimeout)
		}
	}
	return def
}

// recorder is the http.ResponseWriter a rendering is made into.
type recorder struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
