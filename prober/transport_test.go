package prober

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawServer answers every connection with reply and records the request.
func rawServer(t *testing.T, reply string) (string, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	reqs := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				var b strings.Builder
				for {
					line, err := br.ReadString('\n')
					b.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				reqs <- b.String()
				_, _ = c.Write([]byte(reply))
			}(c)
		}
	}()
	return "http://" + l.Addr().String(), reqs
}

func TestOneShotTransport(t *testing.T) {
	t.Run("1xx responses are skipped", func(t *testing.T) {
		url, reqs := rawServer(t, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		o := httpProbe(t, url, "/x?y=1", nil, 5*time.Second)
		if o.Result != Success || o.Output != "ok" {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		req := <-reqs
		for _, want := range []string{"GET /x?y=1 HTTP/1.1\r\n", "Connection: close\r\n", "Accept: */*\r\n", "User-Agent: kube-probe/"} {
			if !strings.Contains(req, want) {
				t.Errorf("request lacks %q:\n%s", want, req)
			}
		}
		if strings.Contains(req, "Accept-Encoding") {
			t.Errorf("compression was asked for:\n%s", req)
		}
	})
	t.Run("101 is a failure", func(t *testing.T) {
		url, _ := rawServer(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Failure {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("garbage is a failure", func(t *testing.T) {
		url, _ := rawServer(t, "SSH-2.0-OpenSSH\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Failure || o.Err != nil {
			t.Fatalf("got %v %v %q", o.Result, o.Err, o.Output)
		}
	})
	t.Run("chunked body", func(t *testing.T) {
		url, _ := rawServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
		if o := httpProbe(t, url, "/", nil, 5*time.Second); o.Result != Success || o.Output != "ok" {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("same-host redirect from http to https is followed", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/secure" {
				w.WriteHeader(500)
			}
		}))
		defer tlsSrv.Close()
		plain := httptest.NewServer(http.RedirectHandler(tlsSrv.URL+"/secure", http.StatusFound))
		defer plain.Close()
		if o := httpProbe(t, plain.URL, "/", nil, 5*time.Second); o.Result != Success {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
	})
	t.Run("cancellation interrupts a stalled response", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		release := make(chan struct{})
		served := make(chan struct{})
		defer func() { close(release); <-served }()
		go func() {
			defer close(served)
			c, err := l.Accept()
			if err == nil {
				defer c.Close()
				_, _ = c.Read(make([]byte, 1024))
				<-release // never answers while the probe waits
			}
		}()
		tgt, port := serverTarget(t, "http://"+l.Addr().String())
		p := newHTTP(httpAction(port))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		if o := p.Probe(ctx, tgt); o.Result != Failure {
			t.Fatalf("got %v %q", o.Result, o.Output)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cancel took %v to take effect", d)
		}
	})
}
