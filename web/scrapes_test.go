package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/await"
)

// serve runs h behind NewServer on loopback.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// stall sends a scrape and never reads the answer.
func stall(t *testing.T, addr string, header string) net.Conn {
	t.Helper()
	// A small receive buffer, set before connecting (which turns the
	// kernel's autotuning off: tcp_rmem may grow to 32 MiB), so that the
	// server's writes block however the machine is tuned.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"+header+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// bigBody is 16 MiB, more than a stalled client's socket buffers hold
// (its small receive buffer and tcp_wmem, at most 4 MiB by default), so
// a writer blocks.
var bigBody = bytes.Repeat([]byte("probe_state{target=\"x\"} 1\n"), 16<<20/26)

// chunked writes body as a streamed scrape does: in 64 KiB writes.
func chunked(w http.ResponseWriter, body []byte) {
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
	}
}

// TestStalledReadersDontLockOthersOut: many clients that ask for /metrics
// and never read must not keep anyone else from scraping (a limit of 4
// in-flight requests, held by 4 such clients for minutes, used to answer
// everybody else 503), and each is cut off at its own deadline.
func TestStalledReadersDontLockOthersOut(t *testing.T) {
	h := Scrapes(func() http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { chunked(w, bigBody) })
	}, ScrapeOptions{Writers: 1})
	addr := serve(t, h)

	var stalled []net.Conn
	// The stalled readers' deadline: far beyond what the scrapes take on a
	// quiet machine (0.3 s), so that a machine busy with other tests
	// (3 s was once too little under -race) still tells waiting from not.
	const deadline = 10 * time.Second
	start := time.Now()
	cutOff := start.Add(deadline)
	for i := 0; i < 20; i++ {
		stalled = append(stalled, stall(t, addr, fmt.Sprintf("X-Prometheus-Scrape-Timeout-Seconds: %g\r\n", deadline.Seconds())))
	}
	// Every stalled request being answered before the scrapes start: one
	// that began later would hold a newer preparation than theirs.
	s := h.(*scrapes)
	await.True(t, "the stalled requests to be answered", func() bool { return s.streamsBegun() == 20 })
	for i := 0; i < 3; i++ {
		res, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || !bytes.Equal(body, bigBody) {
			t.Fatalf("scrape %d beside 20 stalled readers: status %d, %d bytes, err %v", i, res.StatusCode, len(body), err)
		}
	}
	// With one writer slot, only a slot given up while the stalled
	// readers block in their writes lets these through before the
	// stalled readers' deadline.
	if time.Now().After(cutOff) {
		t.Errorf("the scrapes waited for the stalled readers' deadline (%v after the first stalled request)", time.Since(start))
	}
	// Each stalled reader was cut off at its deadline: reading once
	// it has passed gets what was sent before that, then the end, short
	// of the body. (Reading before it would let the write go on.)
	time.Sleep(time.Until(cutOff.Add(200 * time.Millisecond)))
	for i, c := range stalled {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		if n >= int64(len(bigBody)) {
			t.Errorf("stalled reader %d got the whole body (%d bytes) after its deadline", i, n)
		}
	}
}

// TestScrapesShareOnePreparation: requests that arrive while a
// preparation runs get that preparation; one within MaxAge of it too; a
// later one prepares again. Each writes it in its own way (here: its
// Accept header).
func TestScrapesShareOnePreparation(t *testing.T) {
	var (
		mu       sync.Mutex
		now      = time.Unix(1000, 0)
		prepares atomic.Int64
		release  = make(chan struct{})
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := Scrapes(func() http.Handler {
		n := prepares.Add(1)
		if n == 1 {
			<-release
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, r.Header.Get("Accept")+" preparation "+strings.Repeat("#", int(n)))
		})
	}, ScrapeOptions{Now: clock, MaxAge: time.Second})
	addr := serve(t, h)
	get := func(accept string) string {
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		req.Header.Set("Accept", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}

	var wg sync.WaitGroup
	bodies := make([]string, 5)
	for i := range bodies {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = get("a") }()
	}
	// Let them all arrive while the first preparation is held.
	deadline := time.Now().Add(10 * time.Second)
	for prepares.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the others queue behind it (nothing to await on)
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "a preparation #" {
			t.Errorf("request %d got %q, want the one shared preparation", i, b)
		}
	}
	if got := get("b"); got != "b preparation #" {
		t.Errorf("within MaxAge, another format: got %q, want the same preparation written its way", got)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if got := get("a"); got != "a preparation ##" {
		t.Errorf("after MaxAge: got %q, want a new preparation", got)
	}
}

// TestSlowWritersCantPileUpRenderings: a rendering still being written
// to slow clients is kept, but beyond maxHeld older ones per key, the
// oldest one's writers are cut off, so stalled clients that keep coming
// can't hold a rendering each in memory until their deadlines.
func TestSlowWritersCantPileUpRenderings(t *testing.T) {
	var (
		mu      sync.Mutex
		now     = time.Unix(1000, 0)
		renders atomic.Int64
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := Scrapes(func() http.Handler {
		renders.Add(1)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { chunked(w, bigBody) })
	}, ScrapeOptions{Now: clock, MaxAge: time.Second})
	addr := serve(t, h)
	var conns []net.Conn
	for i := 1; i <= maxHeld+2; i++ {
		c := stall(t, addr, "")
		conns = append(conns, c)
		// Its first byte: its rendering is done and being written.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if got := renders.Load(); got != int64(i) {
			t.Fatalf("request %d: %d renderings, want %d", i, got, i)
		}
		mu.Lock()
		now = now.Add(2 * time.Second)
		mu.Unlock()
	}
	// The first was cut: it reads what was sent, then the end.
	_ = conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, conns[0]); err != nil || n >= int64(len(bigBody)) {
		t.Errorf("the oldest rendering's writer: read %d bytes, err %v; want it cut off short", n, err)
	}
	// The second is still being written (its deadline is 30 s away).
	_ = conns[1].SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := io.Copy(io.Discard, conns[1]); err == nil {
		t.Errorf("a held rendering's writer was cut off too")
	}
}

// TestScrapesSeeCurrentState: by default a finished rendering is not
// served again: a request after it renders anew (a scrape right after a
// reload shows it).
func TestScrapesSeeCurrentState(t *testing.T) {
	var n atomic.Int64
	h := Scrapes(func() http.Handler {
		body := strings.Repeat("#", int(n.Add(1)))
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })
	}, ScrapeOptions{})
	addr := serve(t, h)
	for want := 1; want <= 3; want++ {
		res, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(b) != want {
			t.Errorf("request %d got rendering %d", want, len(b))
		}
	}
}

// TestStreamsAreBounded: each response being written holds its own
// buffers (a gzip writer is 1.2 MB), so beyond Streams one waiting on its
// client (the longest) is cut off, long before its deadline: a flood of
// clients that stop reading holds at most Streams of them.
func TestStreamsAreBounded(t *testing.T) {
	h := Scrapes(func() http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { chunked(w, bigBody) })
	}, ScrapeOptions{Streams: 2})
	addr := serve(t, h)
	s := h.(*scrapes)
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		conns = append(conns, stall(t, addr, "")) // deadline 30 s away
	}
	// Stalled: waiting on their clients longer than a reading client's
	// write ever does.
	await.True(t, "the two streams to stall on their clients", func() bool { return s.stalled() == 2 })
	conns = append(conns, stall(t, addr, ""))
	// One of the two blocked ones (the one waiting longest) was cut off by
	// the third, within seconds: it reads what was sent, then the end; the
	// other is still being written (reading it drains the whole body and
	// then waits).
	cut := 0
	for i, c := range conns[:2] {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := io.Copy(io.Discard, c)
		switch {
		case err == nil && n < int64(len(bigBody)):
			cut++
		case err == nil:
			t.Errorf("stream %d ended whole (%d bytes) long before its deadline", i, n)
		}
	}
	if cut != 1 {
		t.Errorf("%d of the two blocked streams cut off by a third beyond Streams=2, want 1", cut)
	}
}
