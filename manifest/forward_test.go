package manifest

import (
	"strings"
	"testing"
)

// TestParsePortForwards: --port-forward in kubectl's order; what can't be
// probed is refused with why.
func TestParsePortForwards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		specs []string
		want  []Forward
		err   string
	}{
		{[]string{"18080:8080", "19090:metrics"}, []Forward{{18080, "8080"}, {19090, "metrics"}}, ""},
		{[]string{"8080"}, []Forward{{8080, "8080"}}, ""},
		{[]string{":8080"}, nil, "a random local port can't be probed"},
		{[]string{"0:8080"}, nil, "LOCAL must be a port number"},
		{[]string{"1:70000"}, nil, "REMOTE 70000 is not a port number"},
		{[]string{"1:Not_A_Name"}, nil, "neither a port number nor a port name"},
		{[]string{"1:8080", "2:8080"}, nil, "container port 8080 is forwarded twice"},
	} {
		got, err := ParsePortForwards(c.specs)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: %v, want an error saying %q", c.specs, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%v: %v %v", c.specs, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: %v, want %v", c.specs, got, c.want)
			}
		}
	}
}

// TestConfigForwards: with forwards, each probe goes to the local port
// its container port (by number or by name) is forwarded to, and one
// whose port is not forwarded is reported, not sent.
func TestConfigForwards(t *testing.T) {
	t.Parallel()
	cs, err := decode(strings.NewReader(`kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 7070}]
      readinessProbe: {httpGet: {path: /healthz, port: http}}
      livenessProbe: {tcpSocket: {port: 7070}}
      startupProbe: {grpc: {port: 9090}}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := ParsePortForwards([]string{"18080:http", "17070:7070"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, skipped, err := Config(cs, AtHost("127.0.0.1"), Options{Forwards: fs})
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Targets[0]
	if p := e.ReadinessProbe.HTTPGet.Port; p.IntVal != 18080 {
		t.Errorf("readiness to port %v, want 18080", p)
	}
	if p := e.LivenessProbe.TCPSocket.Port; p.IntVal != 17070 {
		t.Errorf("liveness to port %v, want 17070", p)
	}
	if e.StartupProbe != nil || len(skipped) != 1 || skipped[0].Reason != "container port 9090 is not forwarded (--port-forward LOCAL:9090)" {
		t.Errorf("the startup probe: %+v, skipped %+v", e.StartupProbe, skipped)
	}
}
