package prober

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
)

func TestRedactQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://h:80/p", "http://h:80/p"},
		{"http://h:80/p?token=abc&x=1&x=2", "http://h:80/p?token=<redacted>&x=<redacted>&x=<redacted>"},
		{"http://user:pw@h/p?a=", "http://user:xxxxx@h/p?a=<redacted>"},
	} {
		if got := redactQuery(c.in); got != c.want {
			t.Errorf("redactQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNoSecretsInOutput: what an attempt says (it goes to logs and to the
// kept state) holds no query value, header value or passed variable.
func TestNoSecretsInOutput(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			// A redirect to another port, whose URL carries a new secret.
			port := r.URL.Query().Get("port")
			http.Redirect(w, r, "http://127.0.0.1:"+port+"/landing?sig=from-the-redirect", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "you sent %s and %s", r.Header.Get("Authorization"), r.URL.RawQuery)
	}))
	defer echo.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	tgt, port := serverTarget(t, echo.URL)
	run := func(a *probe.HTTPGetAction) Outcome {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return newHTTP(a, testEnv).Probe(ctx, tgt)
	}
	for _, c := range []struct {
		name   string
		action *probe.HTTPGetAction
		want   string
	}{
		{"body echoing header and query", &probe.HTTPGetAction{Path: "/echo?token=" + secret, Port: port, Scheme: "HTTP",
			HTTPHeaders: []probe.HTTPHeader{{Name: "Authorization", Value: "Bearer " + secret}}}, "you sent <redacted> and token=<redacted>"},
		{"error naming the URL", &probe.HTTPGetAction{Path: "/echo?token=" + secret, Port: probe.IntOrString{IntVal: int32(closedPort)}, Scheme: "HTTP"},
			"/echo?token=<redacted>"},
		{"error after a redirect", &probe.HTTPGetAction{Path: fmt.Sprintf("/away?port=%d", closedPort), Port: port, Scheme: "HTTP"},
			"/landing?sig=<redacted>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := run(c.action)
			if strings.Contains(o.Output, secret) || strings.Contains(o.Output, "from-the-redirect") {
				t.Errorf("output holds a secret: %q", o.Output)
			}
			if !strings.Contains(o.Output, c.want) {
				t.Errorf("output %q, want it to contain %q", o.Output, c.want)
			}
		})
	}
	t.Run("exec output with a passed variable", func(t *testing.T) {
		t.Setenv("PROBE_EXPORTER_TEST_TOKEN", secret)
		base := execBase([]string{"PROBE_EXPORTER_TEST_TOKEN"})
		p := &execProber{command: []string{"/bin/sh", "-c", "echo token is $PROBE_EXPORTER_TEST_TOKEN; exit 1"}, timeout: 5 * time.Second,
			base: base, redact: execSecrets(base)}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o := p.Probe(ctx, &Target{Host: "h"})
		if o.Output != "token is <redacted>\n" {
			t.Errorf("output %q, want the token redacted", o.Output)
		}
	})
}
