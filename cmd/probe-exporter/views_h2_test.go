package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestZeroWindowClientsKeepNoViewSlot: over HTTPS (HTTP/2), one client
// connection that opens two status-view streams with a zero flow-control
// window, and never reads, does not block the status views for anyone
// else (it held both view slots until the 2-minute write timeout).
func TestZeroWindowClientsKeepNoViewSlot(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	webCfg := filepath.Join(dir, "web.yml")
	writeConfig(t, webCfg, "tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	// Enough probes that a view is far larger than what HTTP/2 buffers
	// for a stream, so that writing it waits for the window.
	var hosts strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&hosts, "      - {host: 127.0.0.1, port: %d}\n", 10000+i)
	}
	cfg := filepath.Join(dir, "config.yaml")
	writeConfig(t, cfg, "targets:\n  - name: many\n    static:\n"+hosts.String()+"    readinessProbe: {tcpSocket: {}, periodSeconds: 300}\n")
	e := start(t, "--web.config.file="+webCfg, "--config.file="+cfg)
	addr := strings.TrimPrefix(e.url, "https://")

	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // a test's self-signed server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Skipf("no HTTP/2 (ALPN %q)", p)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	// Every stream starts with no window, and none is ever granted.
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i, path := range []string{"/api/v1/targets?limit=1000", "/targets?limit=1000"} {
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: addr}, {Name: ":path", Value: path}} {
			_ = enc.WriteField(f)
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Read (and drop) what the server sends, granting nothing; its
	// response HEADERS say both views are built and being written.
	answered := make(chan uint32, 2)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if h, ok := f.(*http2.HeadersFrame); ok {
				select {
				case answered <- h.StreamID:
				default:
				}
			}
		}
	}()
	for range 2 {
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("the stalled streams were never answered")
		}
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test's self-signed server
	defer client.CloseIdleConnections()
	for _, path := range []string{"/targets", "/api/v1/targets"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
		res, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("%s beside a client that doesn't read: %v", path, err)
		}
		res.Body.Close()
		cancel()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
}
