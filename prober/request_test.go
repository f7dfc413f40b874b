package prober

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

// headBytes renders a request for host both ways: Request.Write (as the
// one-shot transport calls it) and the prober's template. used says
// whether the template applied.
func headBytes(p *httpProber, host string) (std, ours []byte, used bool, stdErr error) {
	u := p.url
	u.Host = host
	out := *p.request
	out.URL = &u
	out.Close = true
	var a bytes.Buffer
	stdErr = out.Write(&a)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	used = p.head.write(w, host)
	_ = w.Flush()
	return a.Bytes(), b.Bytes(), used, stdErr
}

// TestRequestHeadMatchesRequestWrite: the template writes a request
// byte for byte as Request.Write does, or leaves it to Request.Write.
func TestRequestHeadMatchesRequestWrite(t *testing.T) {
	hosts := []string{
		"127.0.0.1:8080", "[::1]:80", "web.test:80", "web.test",
		"[fe80::1%25eth0]:80", "[fe80::1%eth0]:80", // a zone: dropped by Request.Write
		"bücher.test:80",                // punycoded by Request.Write
		"a b:80", "a/b:80", "a\r\nX: y", // sent empty by Request.Write
		"",
	}
	cases := []struct {
		name    string
		path    string
		headers []probe.HTTPHeader
		// template: whether an ASCII host gets the template at all.
		template bool
	}{
		{name: "defaults", path: "/healthz", template: true},
		{name: "no slash", path: "healthz", template: true},
		{name: "query", path: "/a?b=c&d", template: true},
		{name: "bare query", path: "?x=1", template: true},
		{name: "escaped", path: "/a%20b/%7e", template: true},
		{name: "custom User-Agent", path: "/", headers: []probe.HTTPHeader{{Name: "User-Agent", Value: "x/1"}}, template: true},
		{name: "no User-Agent", path: "/", headers: []probe.HTTPHeader{{Name: "User-Agent", Value: ""}}, template: true},
		{name: "no Accept", path: "/", headers: []probe.HTTPHeader{{Name: "Accept", Value: ""}}, template: true},
		{name: "repeated and odd-cased", path: "/", headers: []probe.HTTPHeader{{Name: "x-b", Value: "2"}, {Name: "X-A", Value: " 1 "}, {Name: "x-b", Value: "3"}}, template: true},
		{name: "Connection header", path: "/", headers: []probe.HTTPHeader{{Name: "Connection", Value: "keep-alive"}}, template: true},
		{name: "Connection: close already", path: "/", headers: []probe.HTTPHeader{{Name: "Connection", Value: "close"}}, template: true},
		{name: "Host override", path: "/", headers: []probe.HTTPHeader{{Name: "Host", Value: "virtual.test"}}, template: true},
		{name: "Host override with a zone", path: "/", headers: []probe.HTTPHeader{{Name: "Host", Value: "[fe80::1%eth0]:80"}}, template: true},
		{name: "Host override not valid (sent empty)", path: "/", headers: []probe.HTTPHeader{{Name: "Host", Value: "a b"}}, template: true},
		{name: "value with a newline", path: "/", headers: []probe.HTTPHeader{{Name: "X-A", Value: "a\nb"}}, template: true},
		{name: "long header", path: "/", headers: []probe.HTTPHeader{{Name: "X-Long", Value: strings.Repeat("v", 10000)}}, template: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newHTTP(&probe.HTTPGetAction{Path: c.path, Port: probe.IntOrString{IntVal: 80}, Scheme: "HTTP", HTTPHeaders: c.headers}, testEnv)
			if p.first == nil {
				t.Fatal("a cleartext probe must send its first request directly")
			}
			if p.head.ok != c.template {
				t.Fatalf("template made: %v, want %v", p.head.ok, c.template)
			}
			for _, host := range hosts {
				std, ours, used, stdErr := headBytes(p, host)
				switch {
				case used && stdErr != nil:
					t.Errorf("host %q: the template wrote what Request.Write refuses (%v)", host, stdErr)
				case used && !bytes.Equal(std, ours):
					t.Errorf("host %q:\nRequest.Write %q\ntemplate      %q", host, std, ours)
				case !used && len(ours) > 0:
					t.Errorf("host %q: a head left to Request.Write was written to: %q", host, ours)
				}
				ascii := host == "127.0.0.1:8080" || host == "[::1]:80" || host == "web.test:80"
				if c.template && ascii && !used {
					t.Errorf("host %q: the template should apply", host)
				}
			}
		})
	}
}

// FuzzRequestHead: for any path, header and host, the template writes
// exactly Request.Write's bytes or stands aside.
func FuzzRequestHead(f *testing.F) {
	f.Add("/healthz", "X-A", "1", "", "127.0.0.1:80")
	f.Add("a:b/c", "Host", "v.test", "", "[::1]:1")
	f.Add("/%zz", "User-Agent", "", "x", "h\x00:1")
	f.Add("?q", "Accept", "", "", "[fe80::1%eth0]:80")
	f.Fuzz(func(t *testing.T, path, name, value, name2, host string) {
		hs := []probe.HTTPHeader{{Name: name, Value: value}}
		if name2 != "" {
			hs = append(hs, probe.HTTPHeader{Name: name2, Value: value})
		}
		p := newHTTP(&probe.HTTPGetAction{Path: path, Port: probe.IntOrString{IntVal: 80}, Scheme: "HTTP", HTTPHeaders: hs}, testEnv)
		if p.first == nil {
			return
		}
		std, ours, used, stdErr := headBytes(p, host)
		if used && (stdErr != nil || !bytes.Equal(std, ours)) {
			t.Fatalf("host %q: Request.Write %q (%v), template %q", host, std, stdErr, ours)
		}
	})
}

// scriptServer answers each request by its path from script (a 404
// otherwise) and records every request head it receives, in order.
func scriptServer(t *testing.T, script map[string]string) (addr string, heads func() []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// One at a time: the order of heads is the order of hops.
			head := readHead(c)
			mu.Lock()
			got = append(got, head)
			mu.Unlock()
			reply := "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
			if f := strings.Fields(head); len(f) > 1 {
				if r, ok := script[f[1]]; ok {
					reply = strings.ReplaceAll(r, "$ADDR", l.Addr().String())
				}
			}
			_, _ = c.Write([]byte(reply))
			c.Close()
		}
	}()
	return l.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		h := got
		got = nil
		return h
	}
}

// TestFirstHopMatchesClient: the same probe sent with its first request
// direct and entirely through http.Client puts the same bytes on the
// wire, hop by hop, and ends in the same outcome.
func TestFirstHopMatchesClient(t *testing.T) {
	_, otherPort, _ := net.SplitHostPort(func() string {
		a, _ := scriptServer(t, map[string]string{"/there": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthere"})
		return a
	}())
	redirect := func(code int, loc string) string {
		return fmt.Sprintf("HTTP/1.1 %d %s\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n", code, http.StatusText(code), loc)
	}
	script := map[string]string{
		"/ok":            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/500":           "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nsecr",
		"/garbage":       "SSH-2.0-OpenSSH\r\n",
		"/cut":           "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
		"/300":           redirect(300, "/ok"),
		"/304":           "HTTP/1.1 304 Not Modified\r\n\r\n",
		"/no-location":   "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
		"/bad-loc":       redirect(302, "http://[::1"),
		"/elsewhere":     redirect(302, "http://localhost:1/x"),
		"/other-port":    redirect(307, "http://127.0.0.1:"+otherPort+"/there"),
		"/abs":           redirect(308, "http://$ADDR/ok"),
		"/loop":          redirect(302, "/loop"),
		"/chain":         redirect(303, "/chain2"),
		"/chain2":        redirect(301, "chain3"),
		"/chain3":        redirect(302, "/ok?from=chain"),
		"/ok?from=chain": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nchain",
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		script[fmt.Sprintf("/r%d", code)] = redirect(code, "/ok")
	}
	addr, heads := scriptServer(t, script)
	host, port, _ := net.SplitHostPort(addr)
	tgt := &Target{Host: host}
	paths := []string{"/ok", "/500", "/garbage", "/cut", "/300", "/304", "/no-location", "/bad-loc",
		"/elsewhere", "/other-port", "/abs", "/loop", "/chain", "/r301", "/r302", "/r303", "/r307", "/r308"}
	headerSets := [][]probe.HTTPHeader{
		nil,
		{{Name: "Host", Value: "virtual.test"}},
		{{Name: "Authorization", Value: "Bearer t"}, {Name: "Cookie", Value: "a=b"}, {Name: "User-Agent", Value: ""}},
	}
	for _, hs := range headerSets {
		for _, path := range paths {
			a := &probe.HTTPGetAction{Path: path, Port: probe.IntOrString{IntVal: int32(mustAtoi(port))}, Scheme: "HTTP", HTTPHeaders: hs}
			direct := newHTTP(a, testEnv)
			viaClient := newHTTP(a, testEnv)
			viaClient.first = nil
			run := func(p *httpProber) (Outcome, []string) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				o := p.Probe(ctx, tgt)
				return o, heads()
			}
			wantO, wantHeads := run(viaClient)
			gotO, gotHeads := run(direct)
			name := fmt.Sprintf("%s %v", path, hs)
			if fmt.Sprint(gotO.Result, gotO.Output, gotO.Err, gotO.StatusCode) != fmt.Sprint(wantO.Result, wantO.Output, wantO.Err, wantO.StatusCode) {
				t.Errorf("%s: direct %v %q %v %d; through the client %v %q %v %d", name,
					gotO.Result, gotO.Output, gotO.Err, gotO.StatusCode, wantO.Result, wantO.Output, wantO.Err, wantO.StatusCode)
			}
			if strings.Join(gotHeads, "|") != strings.Join(wantHeads, "|") {
				t.Errorf("%s: on the wire\ndirect:  %q\nclient:  %q", name, gotHeads, wantHeads)
			}
		}
	}
}

// TestFirstHopErrorsMatchClient: a first request that fails words its
// error as http.Client does: refused, and timed out.
func TestFirstHopErrorsMatchClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := l.Addr().(*net.TCPAddr).Port // accepts (backlog), never answers
	defer l.Close()
	for _, port := range []int{closedPort(t), silent} {
		a := &probe.HTTPGetAction{Path: "/x?y", Port: probe.IntOrString{IntVal: int32(port)}, Scheme: "HTTP"}
		direct := newHTTP(a, testEnv)
		viaClient := newHTTP(a, testEnv)
		viaClient.first = nil
		run := func(p *httpProber) Outcome {
			return Run(context.Background(), p, &Target{Host: "127.0.0.1"}, 100*time.Millisecond, time.Now, nil)
		}
		want, got := run(viaClient), run(direct)
		if got.Result != want.Result || got.Output != want.Output || fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
			t.Errorf("port %d: direct %v %q %v; through the client %v %q %v", port, got.Result, got.Output, got.Err, want.Result, want.Output, want.Err)
		}
		if want.Result != Failure || want.Output == "" {
			t.Errorf("port %d: the case should fail with a reason: %v %q", port, want.Result, want.Output)
		}
	}
}
