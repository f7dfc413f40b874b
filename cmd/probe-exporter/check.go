package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/probe-exporter/probe-exporter/manifest"
	"github.com/probe-exporter/probe-exporter/once"
)

// runCheck is `probe-exporter check`: the probes of workload manifests,
// run from here against --host or each workload's pods, answered as --once
// answers them.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := kingpin.New("probe-exporter check",
		"Run the startup, liveness and readiness probes of each container in Kubernetes manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List) from here, against --host or, through a kubeconfig, against the workloads' pods, until their thresholds answer; exit 0 if every state is success, 1 if not, 2 if it could not run.")
	files := app.Flag("filename", "Repeatable: a manifest file, a directory of them, or - for standard input (as kubectl get -o yaml prints them).").Short('f').Required().Strings()
	host := app.Flag("host", "Where to probe the containers' ports: a node port's node, a port-forward (127.0.0.1, with --port-forward), a load balancer. A host only: ports are the containers' (or --port-forward's). Without it, each workload's pods are found through the kubeconfig and probed on their IPs.").String()
	forwards := app.Flag("port-forward", "Repeatable, with --host: LOCAL:REMOTE, in kubectl port-forward's order: a probe of container port REMOTE (a number or a port name) goes to --host's port LOCAL. With any, a probe of a port not forwarded is reported, not sent.").PlaceHolder("LOCAL:REMOTE").Strings()
	kubeconfig := app.Flag("kubeconfig", "Kubeconfig to find the pods with, when --host is not given (default $KUBECONFIG, ~/.kube/config).").String()
	kubeContext := app.Flag("context", "The kubeconfig context to use.").String()
	namespace := app.Flag("namespace", "Namespace of manifests that name none (default the context's).").Short('n').String()
	output := app.Flag("output", "What check prints, as --once: table or json.").Default("table").Enum("table", "json")
	allowProbeHost := app.Flag("allow-probe-host", "Send a probe that names its own host (httpGet.host, tcpSocket.host) to that host, as the kubelet would. Off: a manifest can't point this host's probes elsewhere; such a probe is reported, not sent.").Bool()
	timeout := app.Flag("once.timeout", "How long to wait for every answer; what has none by then is unknown.").Default("2m").Duration()
	dns := addDNSFlags(app)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.HelpFlag.Short('h')
	withHelp(app, false, stdout)
	if _, err := app.Parse(stdinArg(args)); err != nil {
		fmt.Fprintf(stderr, "probe-exporter check: %v (try --help)\n", err)
		return exitCantRun
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "probe-exporter check: "+format+"\n", args...)
		return exitCantRun
	}
	var containers []manifest.Container
	stdinRead := false
	for _, file := range *files {
		if file == "-" {
			if stdinRead {
				return fail("-f - is given twice: standard input is read once")
			}
			stdinRead = true
		}
		cs, err := manifest.Read(file, stdin)
		if err != nil {
			return fail("%v", err)
		}
		containers = append(containers, cs...)
	}
	if len(containers) == 0 {
		return fail("%s holds no container with a probe", strings.Join(*files, ", "))
	}
	if *host != "" && (*kubeconfig != "" || *kubeContext != "" || *namespace != "") {
		return fail("--host probes one address; --kubeconfig, --context and --namespace find the pods instead: give one or the other")
	}
	if h, p, err := net.SplitHostPort(*host); err == nil {
		return fail("--host takes a host, not host:port (%q): the ports are the containers'. To reach a port-forward, "+
			"--host %s --port-forward %s:<container port> (LOCAL:REMOTE, as kubectl port-forward takes it)", *host, h, p)
	}
	pf, err := manifest.ParsePortForwards(*forwards)
	if err != nil {
		return fail("%v", err)
	}
	if len(pf) > 0 && *host == "" {
		return fail("--port-forward needs --host (the port-forward's address, 127.0.0.1 for kubectl's)")
	}
	where := manifest.AtHost(*host)
	if *host == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, ns, err := podClient(*kubeconfig, *kubeContext, *namespace)
		if err != nil {
			fmt.Fprintf(stderr, "probe-exporter check: no --host, and no kubeconfig to find the pods with: %v\n", err)
			return exitCantRun
		}
		where = manifest.AtPods(ctx, client, ns)
	}
	cfg, unrunnable, err := manifest.Config(containers, where, manifest.Options{OwnHosts: *allowProbeHost, Forwards: pf})
	if err != nil {
		fmt.Fprintf(stderr, "probe-exporter check: %v\n", err)
		return exitCantRun
	}
	var extra []once.Result
	for _, u := range unrunnable {
		labels := manifest.Labels(u.Container)
		for k, v := range u.Host.Labels {
			labels[k] = v
		}
		extra = append(extra, once.Result{Target: manifest.EntryName(u.Container), Kind: u.Kind.String(), Address: u.Host.Host,
			State: "unknown", Reason: u.Reason, Labels: labels})
	}
	return probeOnce(cfg, extra, onceOptions{output: *output, timeout: *timeout, maxInFlight: 100, dns: dns}, stdout, stderr, promslog.New(logConfig))
}

// podClient is the API client check finds pods with, and the namespace
// for manifests that name none.
func podClient(kubeconfig, kubeContext, namespace string) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{
		CurrentContext: kubeContext, Context: clientcmdapi.Context{Namespace: namespace}})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", err
	}
	client, err := kubernetes.NewForConfig(rc)
	return client, ns, err
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
