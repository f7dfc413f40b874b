package web

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ScrapeOptions configure Scrapes.
type ScrapeOptions struct {
	// MaxAge is how old a prepared scrape may be and still be served to a
	// new request. Zero (the default): none is; requests share only a
	// preparation that is in progress when they arrive, so what a scrape
	// shows is never older than that (a scrape right after a reload sees
	// it).
	MaxAge time.Duration
	// WriteTimeout bounds a request from its start to its last byte when
	// it carries no X-Prometheus-Scrape-Timeout-Seconds; default 30 s.
	WriteTimeout time.Duration
	// Writers bounds the requests producing bytes at once (default
	// GOMAXPROCS). A request gives its slot up whenever it hands bytes to
	// the network, so a client that stops reading holds none.
	Writers int
	// Streams bounds the responses being written at once (default 16):
	// each holds its own buffers (a gzip writer is 1.2 MB), so one more
	// cuts off the one whose client has not taken bytes for longest, if
	// one is waiting on its client at all. A flood of clients that stop
	// reading holds at most this many, and never a place others wait for.
	Streams int
	// Now is the clock preparations are aged by; default time.Now.
	Now func() time.Time
}

// maxHeld is how many older preparations may still be being written to
// slow clients; a newer one cuts the writers of the oldest off, so slow
// clients can't pile preparations up in memory.
const maxHeld = 2

// maxWriteTimeout caps what a scrape timeout header can ask for.
const maxWriteTimeout = 2 * time.Minute

// Scrapes serves /metrics so that no client can hold it and no scrape is
// rendered whole into memory. prepare takes a scrape's moment (a
// snapshot of the probes) and returns what writes it out; it runs once
// at a time, detached from any client, and requests that arrive while it
// runs (or within MaxAge after) share its result. Each request then
// writes that moment itself, streamed, under its own deadline (its scrape
// timeout), holding one of Writers slots only while it produces bytes. A
// client that stops reading costs its own connection and a share of one
// preparation, never a slot that others wait for.
func Scrapes(prepare func() http.Handler, o ScrapeOptions) http.Handler {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Writers <= 0 {
		o.Writers = runtime.GOMAXPROCS(0)
	}
	if o.Streams <= 0 {
		o.Streams = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &scrapes{prepare: prepare, o: o, slots: make(chan struct{}, o.Writers), streams: map[*stream]struct{}{}}
}

type scrapes struct {
	prepare func() http.Handler
	o       ScrapeOptions
	// render serialises preparations: one at a time bounds their memory.
	render sync.Mutex
	// slots are the Writers: held while producing bytes.
	slots chan struct{}

	mu     sync.Mutex
	latest *preparation
	// held lists older preparations still being written.
	held []*preparation
	// streams are the responses being written.
	streams map[*stream]struct{}
	// recheck: enforceLocked will look again (a timer is armed).
	recheck bool
	// begun counts the streams ever begun (for tests).
	begun int
}

// stream is one response being written.
type stream struct {
	rc *http.ResponseController
	// blockedSince is when its current write to the network began
	// (UnixNano), 0 when it is not in one.
	blockedSince atomic.Int64
}

// preparation is one run of prepare.
type preparation struct {
	done  chan struct{}
	start time.Time
	h     http.Handler

	// writers are the requests writing it out (under scrapes.mu).
	writers map[*http.ResponseController]struct{}
}

func (s *scrapes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Deadlines are the connection's, on the real clock; Now only ages
	// preparations.
	deadline := time.Now().Add(writeTimeout(r, s.o.WriteTimeout))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(deadline) // unsupported only in tests' recorders

	g := s.acquire(rc)
	defer s.release(g, rc)

	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	select {
	case <-g.done:
	case <-ctx.Done():
		return // gone, or past its deadline: nothing can be written any more
	}
	st := &stream{rc: rc}
	s.stream(st)
	defer s.unstream(st)
	pw := &pacedWriter{ResponseWriter: w, slots: s.slots, ctx: ctx, stream: st}
	if !pw.acquire() {
		return
	}
	defer pw.release()
	g.h.ServeHTTP(pw, r)
}

// stream counts st among the responses being written (see enforceLocked).
func (s *scrapes) stream(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[st] = struct{}{}
	s.begun++
	s.enforceLocked()
}

// minStall is how long a write must have waited on its client before its
// stream may be cut off for others. A client that reads finishes each
// write in far less; without it, a reading client caught mid-write was
// "the one waiting longest" whenever the stalled ones had not begun
// writing yet, and was cut.
const minStall = 500 * time.Millisecond

// enforceLocked cuts streams off beyond Streams, the one waiting longest
// on its client first, among those waiting at least minStall (a client
// that reads is never cut for others). While none is, it looks again
// minStall later.
func (s *scrapes) enforceLocked() {
	now := time.Now().UnixNano()
	for len(s.streams) > s.o.Streams {
		var stalled *stream
		var since int64
		for x := range s.streams {
			if b := x.blockedSince.Load(); b != 0 && now-b >= int64(minStall) && (stalled == nil || b < since) {
				stalled, since = x, b
			}
		}
		if stalled == nil {
			if !s.recheck {
				s.recheck = true
				time.AfterFunc(minStall, func() {
					s.mu.Lock()
					defer s.mu.Unlock()
					s.recheck = false
					s.enforceLocked()
				})
			}
			return
		}
		_ = stalled.rc.SetWriteDeadline(time.Unix(1, 0))
		delete(s.streams, stalled)
	}
}

func (s *scrapes) unstream(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, st)
}

// streamsBegun counts the responses that began to be written (for tests).
func (s *scrapes) streamsBegun() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begun
}

// stalled counts the streams whose current write has waited on its
// client at least minStall: those a stream beyond Streams cuts off (for
// tests).
func (s *scrapes) stalled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now := 0, time.Now().UnixNano()
	for x := range s.streams {
		if b := x.blockedSince.Load(); b != 0 && now-b >= int64(minStall) {
			n++
		}
	}
	return n
}

// acquire returns the preparation a request gets, starting one if none
// is fresh, and registers rc as one of its writers.
func (s *scrapes) acquire(rc *http.ResponseController) *preparation {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.latest
	if g == nil || (isDone(g) && (s.o.MaxAge <= 0 || s.o.Now().Sub(g.start) > s.o.MaxAge)) {
		if g != nil && len(g.writers) > 0 {
			s.hold(g)
		}
		g = &preparation{done: make(chan struct{}), writers: map[*http.ResponseController]struct{}{}}
		s.latest = g
		// Detached from the request: those that share it must not lose
		// it when the first one's client goes away.
		go s.run(g)
	}
	g.writers[rc] = struct{}{}
	return g
}

// hold keeps g as one of the preparations still being written, cutting
// the oldest one's writers off beyond maxHeld.
func (s *scrapes) hold(g *preparation) {
	s.held = append(s.held, g)
	for len(s.held) > maxHeld {
		for w := range s.held[0].writers {
			_ = w.SetWriteDeadline(time.Unix(1, 0))
		}
		s.held = s.held[1:]
	}
}

func (s *scrapes) release(g *preparation, rc *http.ResponseController) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(g.writers, rc)
	if len(g.writers) > 0 {
		return
	}
	if s.latest == g {
		// Kept for requests of the next MaxAge, then let go.
		if s.o.MaxAge <= 0 {
			if isDone(g) {
				s.latest = nil
			}
			return
		}
		time.AfterFunc(s.o.MaxAge, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.latest == g && len(g.writers) == 0 {
				s.latest = nil
			}
		})
		return
	}
	for i, h := range s.held {
		if h == g {
			s.held = append(s.held[:i:i], s.held[i+1:]...)
			break
		}
	}
}

func (s *scrapes) run(g *preparation) {
	s.render.Lock()
	defer s.render.Unlock()
	g.start = s.o.Now()
	g.h = s.prepare()
	close(g.done)
}

func isDone(g *preparation) bool {
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

// errNoSlot ends a write that got no slot back before its deadline.
var errNoSlot = errors.New("no writer slot before the scrape's deadline")

// pacedWriter holds a writer slot while its request produces bytes and
// gives it up for each write to the network (a bufio or gzip writer's
// whole buffer), so that a stalled client blocks in its own write
// holding nothing others need.
type pacedWriter struct {
	http.ResponseWriter
	slots  chan struct{}
	ctx    context.Context
	held   bool
	stream *stream
}

func (p *pacedWriter) acquire() bool {
	select {
	case p.slots <- struct{}{}:
		p.held = true
		return true
	case <-p.ctx.Done():
		return false
	}
}

func (p *pacedWriter) release() {
	if p.held {
		<-p.slots
		p.held = false
	}
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	p.release()
	p.stream.blockedSince.Store(time.Now().UnixNano())
	n, err := p.ResponseWriter.Write(b)
	p.stream.blockedSince.Store(0)
	if err != nil {
		return n, err
	}
	if !p.acquire() {
		return n, errNoSlot
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (p *pacedWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
