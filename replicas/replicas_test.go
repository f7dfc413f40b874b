package replicas

import (
	"context"
	"net"
	"reflect"
	"testing"

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
