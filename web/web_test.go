package web

import (
	"bufio"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/vsock"
	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/reload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSelfAddress(t *testing.T) {
	for _, c := range []struct {
		listen, host string
	}{
		{"127.0.0.1:0", "127.0.0.1"},
		{"[::1]:0", "::1"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"[::]:0", "127.0.0.1"}, // one dual-stack socket
		{":0", "127.0.0.1"},
	} {
		ls, err := Listen([]string{c.listen})
		if err != nil {
			t.Fatalf("%s: %v", c.listen, err)
		}
		host, port, ok := SelfAddress(ls)
		want := ls[0].Addr().(*net.TCPAddr).Port
		for _, l := range ls {
			l.Close()
		}
		if !ok || host != c.host || port != want {
			t.Errorf("%s: %s %d %v, want %s %d", c.listen, host, port, ok, c.host, want)
		}
	}
	if _, _, ok := SelfAddress(nil); ok {
		t.Error("no listener: ok")
	}
}

func TestListenErrors(t *testing.T) {
	for _, a := range []string{"vsock://", "vsock://:x", "256.0.0.1:1", "nonsense"} {
		if ls, err := Listen([]string{a}); err == nil {
			for _, l := range ls {
				l.Close()
			}
			t.Errorf("%s: listened", a)
		}
	}
	if _, err := Listen(nil); err == nil {
		t.Error("no addresses: no error")
	}
}

// TestVsock serves HTTP on a vsock listener and reads it back through
// the local (loopback) context ID.
func TestVsock(t *testing.T) {
	ls, err := Listen([]string{"vsock://:0"})
	if err != nil {
		t.Skipf("no vsock here (%v): needs /dev/vsock and the vsock_loopback module", err)
	}
	l := ls[0]
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "over vsock") })}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	defer func() { srv.Close(); <-done }()
	port := l.Addr().(*vsock.Addr).Port
	c, err := vsock.Dial(vsock.Local, port, nil)
	if err != nil {
		t.Skipf("vsock loopback unavailable: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "over vsock" {
		t.Errorf("body %q", body)
	}
}

func TestServesTLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		file string
		want bool
	}{
		{"", false},
		{write("tls.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"), true},
		{write("inline.yml", "tls_server_config:\n  cert: x\n  key: y\n"), true},
		{write("auth.yml", "basic_auth_users:\n  u: $2y$10$x\n"), false},
	} {
		got, err := ServesTLS(c.file)
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.file, got, err, c.want)
		}
	}
	if _, err := ServesTLS(filepath.Join(dir, "missing.yml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestHandler(t *testing.T) {
	reloads := 0
	fail, busy := false, false
	h, err := Handler(Options{
		Logger:  slog.New(slog.DiscardHandler),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "m 1\n") }),
		Ready:   func() bool { return !fail },
		Reload: func() error {
			reloads++
			if busy {
				return fmt.Errorf("reload: %w", reload.ErrBusy)
			}
			if fail {
				return errors.New("bad config")
			}
			return nil
		},
		Endpoints: []Endpoint{{Path: "/demo", Text: "Demo", Handler: http.NotFoundHandler()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/metrics", 200, "m 1"},
		{"GET", "/-/healthy", 200, "Healthy"},
		{"GET", "/-/ready", 200, "Ready"},
		{"GET", "/-/reload", 405, "Use POST"},
		{"POST", "/-/reload", 200, "Reloaded"},
		{"GET", "/", 200, `href="/demo"`},
	} {
		code, body := get(c.method, c.path)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s: %d %q", c.method, c.path, code, body)
		}
	}
	// Browsers ask every page without a named icon (the JSON API) for
	// /favicon.ico: a real image, not a 404 in their console.
	if code, body := get("GET", "/favicon.ico"); code != 200 {
		t.Errorf("favicon: %d", code)
	} else if img, err := png.Decode(strings.NewReader(body)); err != nil || img.Bounds().Dx() != 32 {
		t.Errorf("favicon is not a 32px PNG: %v", err)
	}
	// Every link on the landing page answers; pprof is neither linked nor
	// served unless asked for.
	_, landing := get("GET", "/")
	if strings.Contains(landing, "debug/pprof") {
		t.Error("landing page links pprof, which is off")
	}
	if code, _ := get("GET", "/debug/pprof/"); code == 200 {
		t.Error("pprof served without --web.enable-pprof")
	}
	fail = true
	if code, body := get("POST", "/-/reload"); code != 500 || !strings.Contains(body, "bad config") {
		t.Errorf("failed reload: %d %q", code, body)
	}
	if code, _ := get("GET", "/-/ready"); code != 503 {
		t.Errorf("not ready: %d", code)
	}
	// Another reload still loading is no fault of the file: ask again.
	busy = true
	if code, body := get("POST", "/-/reload"); code != 503 || !strings.Contains(body, "still loading") {
		t.Errorf("busy reload: %d %q", code, body)
	}

	off, _ := Handler(Options{Metrics: http.NotFoundHandler(), Pprof: true})
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
	if rec.Code != 403 {
		t.Errorf("reload without lifecycle: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 200 {
		t.Errorf("pprof on: %d", rec.Code)
	}
}
