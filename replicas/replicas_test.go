package replicas

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/probe-exporter/probe-exporter/internal/dnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDNS: the replicas are an SRV name's targets, at their ports. An
// answer naming no host name (an answer is untrusted) yields none: Go's
// resolver refuses the whole answer (and the source would skip such a
// target if it passed).
func TestDNS(t *testing.T) {
	z := dnstest.NewZone()
	z.Set("_http._tcp.probe-exporter.monitoring. SRV",
		"_http._tcp.probe-exporter.monitoring. 30 IN SRV 0 0 9878 pe-0.probe-exporter.monitoring.",
		"_http._tcp.probe-exporter.monitoring. 30 IN SRV 0 0 9878 pe-1.probe-exporter.monitoring.")
	z.Set("_http._tcp.evil.monitoring. SRV", `_http._tcp.evil.monitoring. 30 IN SRV 0 0 9878 evil\/path.monitoring.`)
	ns := dnstest.Serve(t, z)
	d := &DNS{Name: "_http._tcp.probe-exporter.monitoring.", Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, ns)
		}}}
	got, err := d.Replicas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Replica{{Name: "pe-0.probe-exporter.monitoring", URL: "http://pe-0.probe-exporter.monitoring:9878/"},
		{Name: "pe-1.probe-exporter.monitoring", URL: "http://pe-1.probe-exporter.monitoring:9878/"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%+v, want %+v", got, want)
	}
	d.Name = "_http._tcp.evil.monitoring."
	if got, err := d.Replicas(context.Background()); err == nil || len(got) != 0 {
		t.Errorf("a hostile answer: %+v, %v", got, err)
	}
}

// TestAskBounded: a replica that answers more than MaxBody, one that
// answers an error and one that stalls each cost only their own answer,
// and the stalled one no more than Timeout; the others answer.
func TestAskBounded(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":1}`)) }))
	defer ok.Close()
	flood := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer flood.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer failing.Close()
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalled.Close()
	defer close(release)
	a := &Asker{Client: &http.Client{}, Max: 10, Timeout: 300 * time.Millisecond, MaxBody: 1 << 20}
	start := time.Now()
	got := a.Ask(context.Background(), []Replica{{"ok", ok.URL + "/"}, {"flood", flood.URL + "/"}, {"failing", failing.URL + "/"}, {"stalled", stalled.URL + "/"}}, "x")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 300ms timeout", took)
	}
	if string(got[0].Body) != `{"ok":1}` || got[0].Err != nil {
		t.Errorf("ok: %q %v", got[0].Body, got[0].Err)
	}
	for _, ans := range got[1:] {
		if ans.Err == nil || ans.Body != nil {
			t.Errorf("%s: %d bytes, %v; want an error and no body", ans.Replica.Name, len(ans.Body), ans.Err)
		}
	}
	// Max bounds how many are asked.
	a.Max = 1
	if n := len(a.Ask(context.Background(), []Replica{{"ok", ok.URL + "/"}, {"ok2", ok.URL + "/"}}, "x")); n != 1 {
		t.Errorf("%d asked, want Max 1", n)
	}
}
