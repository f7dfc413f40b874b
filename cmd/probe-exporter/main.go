// Command probe-exporter runs Kubernetes-style probes against targets and
// exposes the thresholded results for Prometheus. This file is the
// exporter's command line: its flags (addFlags), its listeners (listen),
// and serving (serve) the pipeline built from them (pipeline.go:
// discovery → targets → scheduler → prober → state) with the collector and
// web, until SIGTERM (shutdown); once.go, check.go and help.go are the
// other commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/probe-exporter/probe-exporter/collector"
	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/feedback"
	"github.com/probe-exporter/probe-exporter/internal/gcpace"
	"github.com/probe-exporter/probe-exporter/internal/procpace"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/reload"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
	exporterweb "github.com/probe-exporter/probe-exporter/web"
)

const defaultListen = ":9878"

func main() {
	args := os.Args[1:]
	if check, help, ok := helpArgs(args); ok {
		if check {
			os.Exit(runCheck(help, os.Stdin, os.Stdout, os.Stderr))
		}
		args = help
	}
	if len(args) > 0 && args[0] == "check" {
		os.Exit(runCheck(args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(args))
}

// flags are the exporter's command line.
type flags struct {
	configFile, output, kubeconfig, nodeName      *string
	events, gate                                  *bool
	gateCondition                                 *string
	feedbackQPS                                   *float64
	replicaSelector, replicaNamespace, replicaSRV *string
	replicaSelf                                   *string
	replicaPort, replicaMax                       *int
	replicaTimeout                                *time.Duration
	autoReload, configCheck, once                 *bool
	lifecycle, pprof                              *bool
	autoReloadInterval, onceTimeout               *time.Duration
	maxExpanded, maxInFlight, shard, totalShards  *int
	adaptiveInFlight                              *bool
	execEnv                                       *[]string
	dns                                           *dnsSettings
	web                                           *web.FlagConfig
	log                                           *promslog.Config
}

func addFlags(app *kingpin.Application) *flags {
	f := &flags{log: &promslog.Config{}}
	f.configFile = app.Flag("config.file", "Configuration file. Without it, an embedded default probes the exporter itself.").String()
	f.autoReload = app.Flag("config.auto-reload", "Reload --config.file when its content changes (a ConfigMap volume's symlink swap included), checked every --config.auto-reload-interval; a bad configuration keeps the running one, as SIGHUP does.").Bool()
	f.autoReloadInterval = app.Flag("config.auto-reload-interval", "How often --config.auto-reload reads the file (at least 1s).").Default("30s").Duration()
	f.configCheck = app.Flag("config.check", "Validate --config.file and exit: 0 when valid, 1 with every error otherwise.").Bool()
	f.maxExpanded = positiveInt(app.Flag("config.max-expanded-targets", "Most targets a configuration file's name patterns (dns: brace ranges) may expand to; a file beyond it is refused.").Default("100000"), "--config.max-expanded-targets", 1)
	f.maxInFlight = positiveInt(app.Flag("probe.max-in-flight", "Most probes running at once (at least 1); due probes beyond it wait (probe_exporter_probes_waiting). With --probe.adaptive-in-flight, the ceiling.").Default("2000"), "--probe.max-in-flight", 1)
	f.adaptiveInFlight = app.Flag("probe.adaptive-in-flight", "Start fewer probes than --probe.max-in-flight while the CPU can't run more on time (goroutines wait over 5 ms for it); the rest of their ticks are skipped and counted (probe_exporter_probes_in_flight_limit, probe_exporter_ticks_skipped_total).").Default("true").Bool()
	f.execEnv = app.Flag("probe.exec.env", "Repeatable: a variable of the exporter's environment to pass to exec probe commands. They get PATH, their PROBE_* variables and these, nothing else.").PlaceHolder("NAME").Strings()
	f.once = app.Flag("once", "Run every probe of --config.file until each (target, kind) has the answer its thresholds give, print them and exit: 0 if every state is success, 1 if not, 2 if it could not run.").Bool()
	f.onceTimeout = app.Flag("once.timeout", "How long --once waits for every answer; what has none by then is unknown.").Default("2m").Duration()
	f.output = app.Flag("output", "What --once (and check) print: table or json.").Default("table").Enum("table", "json")
	f.lifecycle = app.Flag("web.enable-lifecycle", "Enable configuration reload through HTTP POST to /-/reload.").Bool()
	f.pprof = app.Flag("web.enable-pprof", "Serve Go's profiles under /debug/pprof/ (and link them from the landing page).").Bool()
	f.kubeconfig = app.Flag("kubeconfig", "Kubeconfig for kubernetes entries that name none, when not running in a cluster (then $KUBECONFIG, ~/.kube/config).").String()
	f.events = app.Flag("kubernetes.events", "Post a Kubernetes Event (events.k8s.io/v1) on the pod or Service behind a probe each time its thresholded state changes, as the kubelet does for its own probes. Needs RBAC to create and patch events and get pods and services.").Default("false").Bool()
	f.gate = app.Flag("kubernetes.readiness-gate", "Write the thresholded state of each pod's readiness probe into the pod's status, as the condition its readinessGates name (--kubernetes.readiness-gate.condition), for pods that declare it; with --node-name only pods on this node. Needs patch on pods/status.").Default("false").Bool()
	f.gateCondition = app.Flag("kubernetes.readiness-gate.condition", "The pod condition type a readiness gate names for the network's verdict.").Default(feedback.DefaultGateCondition).String()
	f.feedbackQPS = app.Flag("kubernetes.feedback-qps", "Requests per second (bursts of twice as many) the readiness gate and Events may make to the API server, together: client-go's rate limit, the bound on what this replica adds to the API server's load.").Default("20").Float64()
	f.replicaSelector = app.Flag("web.replicas.kubernetes-selector", "Label selector of this exporter's pods (its workload's selector): the status views answer for every replica with ?scope=all, asking the running pods it selects in --web.replicas.namespace. Needs list on pods there.").String()
	f.replicaNamespace = app.Flag("web.replicas.namespace", "The namespace of this exporter's pods, for --web.replicas.kubernetes-selector.").Envar("POD_NAMESPACE").String()
	f.replicaSRV = app.Flag("web.replicas.dns-srv", "A DNS SRV name listing this exporter's replicas (a headless Service's port), instead of --web.replicas.kubernetes-selector.").String()
	f.replicaPort = app.Flag("web.replicas.port", "The port the replicas found through the Kubernetes API serve their web endpoints on.").Default("9878").Int()
	f.replicaSelf = app.Flag("web.replicas.self", "This replica's name in views across replicas: its pod's name.").Envar("POD_NAME").String()
	f.replicaTimeout = app.Flag("web.replicas.timeout", "How long a view across replicas waits for each replica; one that has not answered by then is named as not answering.").Default("3s").Duration()
	f.replicaMax = app.Flag("web.replicas.max", "At most this many replicas are asked for a view across replicas.").Default("100").Int()
	f.nodeName = app.Flag("node-name", "This exporter's node, for kubernetes entries with scope node or mesh (DaemonSet: the downward API's spec.nodeName).").Envar("NODE_NAME").String()
	f.shard = positiveInt(app.Flag("shard", "This replica's shard, from 0 to --total-shards minus 1.").Default("0"), "--shard", 0)
	f.totalShards = positiveInt(app.Flag("total-shards", "Replicas that split the targets between them by a stable hash; every replica runs with the same configuration.").Default("1"), "--total-shards", 1)
	f.dns = addDNSFlags(app)
	f.web = kingpinflag.AddFlags(app, defaultListen)
	promslogflag.AddFlags(app, f.log)
	return f
}

// run parses the command line and runs what it asks: --config.check,
// --once, or the exporter.
func run(args []string) int {
	app := kingpin.New("probe-exporter",
		"Runs Kubernetes probes (httpGet, tcpSocket, exec, grpc) with the kubelet's semantics against targets and exports the results for Prometheus.")
	f := addFlags(app)
	app.Version(version.Print("probe-exporter"))
	app.HelpFlag.Short('h')
	withHelp(app, true, os.Stdout)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (try --help)\n", err)
		return 2
	}
	if *f.shard >= *f.totalShards {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (got --shard=%d --total-shards=%d)\n", targets.ErrShard, *f.shard, *f.totalShards)
		return 2
	}

	config.MaxExpandedTargets = *f.maxExpanded
	if *f.configCheck {
		return checkConfig(*f.configFile, *f.nodeName)
	}
	logger := promslog.New(f.log)
	if *f.once {
		return runOnceMode(onceOptions{configFile: *f.configFile, kubeconfig: *f.kubeconfig, nodeName: *f.nodeName, output: *f.output,
			timeout: *f.onceTimeout, maxInFlight: *f.maxInFlight, execEnv: *f.execEnv, dns: f.dns}, os.Stdout, os.Stderr, logger)
	}
	return serve(f, logger)
}

// listening is where the exporter serves, and what the embedded default
// probes of itself.
type listening struct {
	listeners []net.Listener // nil: systemd's sockets
	selfHost  string
	selfPort  int
	https     bool
}

// listen opens the listeners the flags name.
func listen(f *flags, logger *slog.Logger) (*listening, bool) {
	l := &listening{}
	if *f.web.WebSystemdSocket {
		// systemd hands over the sockets; the embedded default can't know
		// which port to probe.
		if *f.configFile == "" {
			logger.Error("--web.systemd-socket needs --config.file")
			return nil, false
		}
	} else {
		var err error
		if l.listeners, err = exporterweb.Listen(*f.web.WebListenAddresses); err != nil {
			logger.Error("cannot listen", "err", err)
			return nil, false
		}
		var ok bool
		if l.selfHost, l.selfPort, ok = exporterweb.SelfAddress(l.listeners); !ok && *f.configFile == "" {
			logger.Error("the embedded default probes the exporter over TCP: give a TCP --web.listen-address too, or --config.file")
			return nil, false
		}
	}
	var err error
	if l.https, err = exporterweb.ServesTLS(*f.web.WebConfigFile); err != nil {
		logger.Error("cannot read --web.config.file", "err", err)
		return nil, false
	}
	return l, true
}

// serve runs the exporter until SIGTERM or the listener fails.
func serve(f *flags, logger *slog.Logger) int {
	logger.Info("starting probe-exporter", "version", version.Info(), "build_context", version.BuildContext())
	if *f.autoReload && *f.configFile == "" {
		logger.Error("--config.auto-reload needs --config.file")
		return 1
	}
	if *f.autoReloadInterval < time.Second {
		logger.Error("--config.auto-reload-interval must be at least 1s", "value", *f.autoReloadInterval)
		return 1
	}
	l, ok := listen(f, logger)
	if !ok {
		return 1
	}
	load := configLoader(*f.configFile, l)
	cfg, err := firstConfig(*f.configFile, load)
	if err != nil {
		logger.Error("invalid configuration", "file", *f.configFile, "err", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("probe_exporter"),
	)
	// What the network sees, written back into Kubernetes: each hears
	// the scheduler's thresholded changes and runs with it.
	var feedbacks []interface {
		Observe(scheduler.Transition)
		Run(context.Context)
	}
	if *f.events || *f.gate {
		client, err := kubeClient(*f.kubeconfig, *f.feedbackQPS)
		if err != nil {
			logger.Error("--kubernetes.events, --kubernetes.readiness-gate: no Kubernetes client", "err", err)
			return 1
		}
		if *f.events {
			feedbacks = append(feedbacks, feedback.NewEvents(client, eventSource(*f.nodeName), logger, reg))
		}
		if *f.gate {
			feedbacks = append(feedbacks, feedback.NewGate(client, *f.gateCondition, *f.nodeName, eventSource(*f.nodeName), logger, reg))
		}
	}
	po := pipelineOptions{logger: logger, schedLogger: logger, dns: f.dns, execEnv: *f.execEnv, maxInFlight: *f.maxInFlight, adaptiveInFlight: *f.adaptiveInFlight,
		kubeconfig: *f.kubeconfig, nodeName: *f.nodeName, shard: *f.shard, totalShards: *f.totalShards}
	if len(feedbacks) > 0 {
		po.onTransition = func(t scheduler.Transition) {
			for _, fb := range feedbacks {
				fb.Observe(t)
			}
		}
	}
	p := newPipeline(po, reg)
	defer p.close()
	probers, sched, mgr := p.probers, p.sched, p.mgr
	// Per-probe series have their own registry: /metrics writes them
	// directly for the text formats and uses it only for protobuf.
	probes := collector.New(sched)
	probeReg := prometheus.NewRegistry()
	probeReg.MustRegister(probes)
	// The running configuration, for /probe's modules and allowlist.
	var running atomic.Pointer[config.Config]
	apply := func(c *config.Config) error {
		if err := mgr.Apply(c); err != nil {
			return err
		}
		running.Store(c)
		return nil
	}
	rl := reload.New(reload.Options{Logger: logger, Path: *f.configFile, Load: load, Apply: apply}, reg)
	if err := rl.Start(cfg); err != nil {
		logger.Error("cannot apply configuration", "err", err)
		return 1
	}
	logLoaded(logger, "configuration loaded", *f.configFile, cfg)
	// Building a large configuration's targets leaves garbage as large as
	// what it built: hand it back now rather than carry it as RSS.
	debug.FreeOSMemory()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer stopSched()
	if _, set := os.LookupEnv("GOGC"); !set {
		// GOGC from the heap and the allocation rate (see gcpace), unless
		// the environment sets one. Started after the configuration is
		// loaded: loading a large one sets a GOGC of its own meanwhile.
		gcpace.Start(schedCtx, gcpace.Default)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		// One P while the exporter uses little CPU, the default from the
		// first 100 ms at half a core (see procpace), unless the
		// environment sets GOMAXPROCS. What reads GOMAXPROCS at start-up
		// (the scrape writers, the in-flight floor) has read the default.
		procpace.Start(schedCtx, procpace.Default, logger)
	}
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(schedCtx) }()
	for _, fb := range feedbacks {
		go fb.Run(schedCtx)
	}
	go freeAfterFirstSync(schedCtx, mgr.Synced, debug.FreeOSMemory)
	var ready atomic.Bool
	ready.Store(true)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = rl.Reload()
		}
	}()
	if *f.autoReload {
		go rl.Watch(schedCtx, *f.autoReloadInterval)
	}

	opts := exporterweb.Options{
		Logger:  logger,
		Metrics: metricsHandler(reg, probeReg, probes, logger),
		Ready:   ready.Load,
		Pprof:   *f.pprof,
		Site: &exporterweb.Site{Probes: sched, LastReload: rl.Last, Entries: func() []string {
			var names []string
			for _, e := range running.Load().Targets {
				names = append(names, e.Name)
			}
			return names
		}},
		Probe: &exporterweb.ProbeOptions{Config: running.Load, Probers: probers, Targets: sched, Requests: exporterweb.NewProbeRequests(reg)},
	}
	if *f.lifecycle {
		opts.Reload = rl.Reload
	}
	if *f.configFile == "" {
		opts.Endpoints = append(opts.Endpoints, exporterweb.Endpoint{Path: "/demo/flapping", Text: "Demo target (30 s up, 30 s down)", Handler: exporterweb.Flapping(time.Now())})
	}
	if opts.Site.Replicas, err = replicaSite(f, *f.kubeconfig); err != nil {
		logger.Error("--web.replicas", "err", err)
		return 1
	}
	handler, err := exporterweb.Handler(opts)
	if err != nil {
		logger.Error("web", "err", err)
		return 1
	}
	srv := exporterweb.NewServer(handler, logger)
	serveErr := make(chan error, 1)
	go func() {
		if l.listeners == nil {
			serveErr <- web.ListenAndServe(srv, f.web, logger)
			return
		}
		serveErr <- web.ServeMultiple(l.listeners, srv, f.web, logger)
	}()

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP server failed", "err", err)
			code = 1
		}
	}
	ready.Store(false)
	shutdown(logger, func() { stopSched(); <-schedDone }, p.stopReaper, srv)
	return code
}

// shutdown stops probing first (every attempt cancelled, exec process
// groups killed and waited for, leftovers killed: stopProbing, then
// stopReaper), then drains the listener with what is left of the budget:
// a slow HTTP client must not leave processes running when we exit.
func shutdown(logger *slog.Logger, stopProbing, stopReaper func(), srv *http.Server) {
	stopping := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	stopped := make(chan struct{})
	go func() { defer close(stopped); stopProbing() }()
	select {
	case <-stopped:
	case <-ctx.Done():
		logger.Warn("probes still running at shutdown")
	}
	stopReaper()
	logger.Info("probing stopped", "took", time.Since(stopping).Round(time.Millisecond))
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	logger.Info("stopped", "took", time.Since(stopping).Round(time.Millisecond))
}

// configLoader makes the running configuration of the file's content
// (read by the reloader, so that what it watches is what was loaded), or
// the embedded default, which probes the exporter where it listens.
func configLoader(file string, l *listening) func([]byte) (*config.Config, error) {
	return func(data []byte) (*config.Config, error) {
		if file == "" {
			return config.Default(l.selfHost, l.selfPort, l.https)
		}
		return config.Parse(data, file)
	}
}

// firstConfig is the configuration the exporter starts with.
func firstConfig(file string, load func([]byte) (*config.Config, error)) (*config.Config, error) {
	if file == "" {
		return load(nil)
	}
	return config.Load(file)
}

// metricsHandler serves /metrics: the probes' series written directly
// from a snapshot in every format (client_golang only for the protobuf
// text formats), streamed to each client under its own deadline, the
// snapshot shared by concurrent scrapes (Scrapes).
func metricsHandler(reg, probeReg *prometheus.Registry, probes *collector.Collector, logger *slog.Logger) http.Handler {
	slow := promhttp.HandlerFor(prometheus.Gatherers{reg, probeReg}, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
	return promhttp.InstrumentMetricHandler(reg, exporterweb.Scrapes(collector.Preparer(probes, reg, slow, logger), exporterweb.ScrapeOptions{}))
}

// shutdownBudget is how long SIGTERM may take.
const shutdownBudget = 2 * time.Second

// registerReaper exposes what the reaper did.
func registerReaper(reg prometheus.Registerer, r *prober.Reaper) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "probe_exporter_exec_leftovers_killed_total",
			Help: "Processes that exec probe commands left running after their probe ended (outside its process group too), killed.",
		}, func() float64 { k, _ := r.Counts(); return float64(k) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "probe_exporter_exec_orphans_reaped_total",
			Help: "Exited processes re-parented to the exporter (it is their child subreaper), reaped.",
		}, func() float64 { _, z := r.Counts(); return float64(z) }),
	)
}

// positiveInt is an integer flag of at least min whose errors name the
// flag (kingpin's own say only "strconv.ParseInt: ...").
func positiveInt(f *kingpin.FlagClause, name string, min int) *int {
	v := &boundedInt{name: name, min: min}
	f.SetValue(v)
	return &v.n
}

type boundedInt struct {
	name string
	min  int
	n    int
}

func (b *boundedInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%s=%s: want a whole number", b.name, s)
	}
	if n < b.min {
		return fmt.Errorf("%s=%d: must be at least %d", b.name, n, b.min)
	}
	b.n = n
	return nil
}

func (b *boundedInt) String() string { return strconv.Itoa(b.n) }

// logLoaded says what a configuration holds, and warns when it probes
// nothing: valid, but rarely what was meant.
func logLoaded(log *slog.Logger, msg, file string, cfg *config.Config) {
	hosts, discovered := counts(cfg)
	if file == "" {
		file = "<embedded default>"
	}
	log.Info(msg, "file", file, "target_entries", len(cfg.Targets), "static_hosts", hosts, "discovered_entries", discovered)
	if len(cfg.Targets) == 0 {
		log.Warn("the configuration has no target entries: nothing will be probed", "file", file)
	}
}

func counts(cfg *config.Config) (hosts, discovered int) {
	for _, t := range cfg.Targets {
		hosts += len(t.Static)
		if t.Discovered != nil {
			discovered++
		}
	}
	return hosts, discovered
}

// checkConfig validates a file as the exporter does at start: the file
// itself (config.Load), then the one check every configuration passes
// before it runs (targets.Check).
func checkConfig(file, nodeName string) int {
	if file == "" {
		fmt.Fprintln(os.Stderr, "--config.check needs --config.file")
		return 2
	}
	cfg, err := config.Load(file)
	if err == nil {
		// What the exporter checks before it runs a configuration.
		_, err = targets.Check(cfg, prober.NewEnv(prober.EnvOptions{}), discovery.Host{NodeName: nodeName})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "FAILED: %s is not valid (the exporter would not start with it)\n", file)
		return 1
	}
	hosts, discovered := counts(cfg)
	probes := 0
	for _, t := range cfg.Targets {
		probes += len(t.Static) * len(t.Probes())
	}
	fmt.Printf("SUCCESS: %s is valid: %d target entries (%d static hosts with %d probes, %d discovered entries; name patterns expand to %d targets, at most %d)\n",
		file, len(cfg.Targets), hosts, probes, discovered, cfg.Expanded(), config.MaxExpandedTargets)
	if len(cfg.Targets) == 0 {
		fmt.Printf("WARNING: %s has no target entries: nothing would be probed\n", file)
	}
	return 0
}

// freeAfterFirstSync hands the garbage of discovery's first lists back to
// the OS once every source has synced: decoding 10k EndpointSlices leaves
// as much garbage as it keeps, which Go's scavenger would return only
// slowly (BenchmarkDiscoveryScale). Sources that are synced from the
// start (static lists) were covered by the first configuration's.
func freeAfterFirstSync(ctx context.Context, synced func() bool, free func()) {
	if synced() {
		return
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if synced() {
				free()
				return
			}
		}
	}
}
