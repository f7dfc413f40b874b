package prober

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/probe-exporter/probe-exporter/probe"
)

// FuzzRequestURL: any path and header a config can hold builds a request
// or says why, never panics, and the request net/http would send is the
// one we build: the same URL text, and our header check agrees with
// net/http's. What we redact has no query value left. The seeds run with
// go test.
func FuzzRequestURL(f *testing.F) {
	for _, seed := range []struct{ path, name, value string }{
		{"/healthz", "X-Token", "abc"},
		{"healthz?x=1&y=2#frag", "Authorization", "Bearer s3cr3t"},
		{"/a b/%zz", "X Bad", "v"},
		{"//evil.example/p", "Host", "other.example"},
		{"/p?token=a%20b&token=c", "X-Multi", "line\nbreak"},
		{"", "", ""},
		{"http://user:pw@h/x?q=1", "Accept", ""},
	} {
		f.Add(seed.path, seed.name, seed.value)
	}
	f.Fuzz(func(t *testing.T, path, name, value string) {
		for _, scheme := range []string{"http", "https"} {
			u, err := requestURL(scheme, path)
			if err != nil {
				continue
			}
			if u.Scheme != scheme || u.Host != "" {
				t.Fatalf("requestURL(%q, %q) = %v: scheme or host not ours", scheme, path, u.String())
			}
			u.Host = "127.0.0.1:80"
			// What the kubelet does: NewRequest on formatURL's text.
			want, err := http.NewRequest(http.MethodGet, formatURL(scheme, "127.0.0.1:80", path).String(), nil)
			if err != nil {
				t.Fatalf("we build %q, net/http refuses it: %v", u.String(), err)
			}
			if want.URL.String() != u.String() {
				t.Fatalf("path %q: we request %q, the kubelet %q", path, u.String(), want.URL.String())
			}
			r := redactQuery(u.String())
			ru, err := url.Parse(r)
			if err != nil {
				t.Fatalf("redactQuery(%q) = %q does not parse: %v", u.String(), r, err)
			}
			for k, vv := range ru.Query() {
				for _, v := range vv {
					if v != redacted {
						t.Fatalf("redactQuery(%q) left %s=%q", u.String(), k, v)
					}
				}
			}
		}
		h := http.Header{}
		h[name] = []string{value}
		ours := validateHeaders(h) == ""
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
		req.Header = h
		// net/http.Transport refuses an invalid header before dialing;
		// port 1 on loopback refuses the connection otherwise.
		_, err := (&http.Transport{}).RoundTrip(req)
		theirs := err == nil || !strings.Contains(err.Error(), "net/http: invalid header")
		if ours != theirs {
			t.Fatalf("header %q: %q: ours valid=%v, net/http valid=%v (%v)", name, value, ours, theirs, err)
		}
		_ = httpRedactor([]probe.HTTPHeader{{Name: name, Value: value}}, path).text(value + path)
	})
}
