package main

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/probe-exporter/probe-exporter/manifest"
	"github.com/probe-exporter/probe-exporter/once"
)

// runCheck is `probe-exporter check`: the probes of workload manifests,
// run from here against --host, answered as --once answers.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := kingpin.New("probe-exporter check",
		"Run the startup, liveness and readiness probes of each container in Kubernetes manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List) from here, against --host, until their thresholds answer; exit 0 if every state is success, 1 if not, 2 if it could not run.")
	file := app.Flag("filename", "A manifest file, a directory of them, or - for standard input (as kubectl get -o yaml prints them).").Short('f').Required().String()
	host := app.Flag("host", "Where to probe the containers' ports: a node port's node, a port-forward (127.0.0.1), a load balancer.").Required().String()
	output := app.Flag("output", "table or json.").Default("table").Enum("table", "json")
	timeout := app.Flag("once.timeout", "How long to wait for every answer; what has none by then is unknown.").Default("2m").Duration()
	dns := addDNSFlags(app)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.HelpFlag.Short('h')
	if _, err := app.Parse(stdinArg(args)); err != nil {
		fmt.Fprintf(stderr, "probe-exporter check: %v (try --help)\n", err)
		return exitCantRun
	}
	containers, err := manifest.Read(*file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "probe-exporter check: %v\n", err)
		return exitCantRun
	}
	if len(containers) == 0 {
		fmt.Fprintf(stderr, "probe-exporter check: %s holds no container with a probe\n", *file)
		return exitCantRun
	}
	cfg, unrunnable, err := manifest.Config(containers, *host)
	if err != nil {
		fmt.Fprintf(stderr, "probe-exporter check: %v\n", err)
		return exitCantRun
	}
	var extra []once.Result
	for _, u := range unrunnable {
		extra = append(extra, once.Result{Target: manifest.EntryName(u.Container), Kind: u.Kind.String(), Address: *host,
			State: "unknown", Reason: u.Reason, Labels: manifest.Labels(u.Container)})
	}
	return probeOnce(cfg, extra, onceOptions{output: *output, timeout: *timeout, maxInFlight: 100, dns: dns}, stdout, stderr, promslog.New(logConfig))
}

// stdinArg spells "-f -" as "--filename=-": kingpin takes a lone "-" for
// the end of the flags, not for a value.
func stdinArg(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if (args[i] == "-f" || args[i] == "--filename") && i+1 < len(args) && args[i+1] == "-" {
			out = append(out, "--filename=-")
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
