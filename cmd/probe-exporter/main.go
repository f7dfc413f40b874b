// Command probe-exporter runs Kubernetes-style probes against targets and
// exposes the thresholded results for Prometheus. This file is the
// exporter's command line: its flags, and the pipeline assembled from them
// (discovery → targets → scheduler → prober → state → collector → web);
// once.go, check.go and help.go are the other commands.
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
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/reload"
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

func run(args []string) int {
	app := kingpin.New("probe-exporter",
		"Runs Kubernetes probes (httpGet, tcpSocket, exec, grpc) with the kubelet's semantics against targets and exports the results for Prometheus.")
	configFile := app.Flag("config.file", "Configuration file. Without it, an embedded default probes the exporter itself.").String()
	autoReload := app.Flag("config.auto-reload", "Reload --config.file when its content changes (a ConfigMap volume's symlink swap included), checked every --config.auto-reload-interval; a bad configuration keeps the running one, as SIGHUP does.").Bool()
	autoReloadInterval := app.Flag("config.auto-reload-interval", "How often --config.auto-reload reads the file (at least 1s).").Default("30s").Duration()
	configCheck := app.Flag("config.check", "Validate --config.file and exit: 0 when valid, 1 with every error otherwise.").Bool()
	maxExpanded := positiveInt(app.Flag("config.max-expanded-targets", "Most targets a configuration file's name patterns (dns: brace ranges) may expand to; a file beyond it is refused.").Default("100000"), "--config.max-expanded-targets", 1)
	maxInFlight := positiveInt(app.Flag("probe.max-in-flight", "Most probes running at once (at least 1); due probes beyond it wait (probe_exporter_probes_waiting).").Default("2000"), "--probe.max-in-flight", 1)
	execEnv := app.Flag("probe.exec.env", "Repeatable: a variable of the exporter's environment to pass to exec probe commands. They get PATH, their PROBE_* variables and these, nothing else.").PlaceHolder("NAME").Strings()
	onceFlag := app.Flag("once", "Run every probe of --config.file until each (target, kind) has the answer its thresholds give, print them and exit: 0 if every state is success, 1 if not, 2 if it could not run.").Bool()
	onceTimeout := app.Flag("once.timeout", "How long --once waits for every answer; what has none by then is unknown.").Default("2m").Duration()
	output := app.Flag("output", "What --once (and check) print: table or json.").Default("table").Enum("table", "json")
	lifecycle := app.Flag("web.enable-lifecycle", "Enable configuration reload through HTTP POST to /-/reload.").Bool()
	pprof := app.Flag("web.enable-pprof", "Serve Go's profiles under /debug/pprof/ (and link them from the landing page).").Bool()
	kubeconfig := app.Flag("kubeconfig", "Kubeconfig for kubernetes entries that name none, when not running in a cluster (then $KUBECONFIG, ~/.kube/config).").String()
	nodeName := app.Flag("node-name", "This exporter's node, for kubernetes entries with scope node or mesh (DaemonSet: the downward API's spec.nodeName).").Envar("NODE_NAME").String()
	shard := positiveInt(app.Flag("shard", "This replica's shard, from 0 to --total-shards minus 1.").Default("0"), "--shard", 0)
	totalShards := positiveInt(app.Flag("total-shards", "Replicas that split the targets between them by a stable hash; every replica runs with the same configuration.").Default("1"), "--total-shards", 1)
	dns := addDNSFlags(app)
	webFlags := kingpinflag.AddFlags(app, defaultListen)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("probe-exporter"))
	app.HelpFlag.Short('h')
	withHelp(app, true, os.Stdout)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (try --help)\n", err)
		return 2
	}
	if *shard >= *totalShards {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (got --shard=%d --total-shards=%d)\n", targets.ErrShard, *shard, *totalShards)
		return 2
	}

	config.MaxExpandedTargets = *maxExpanded
	if *configCheck {
		return checkConfig(*configFile, *nodeName)
	}
	logger := promslog.New(logConfig)
	if *onceFlag {
		return runOnceMode(onceOptions{configFile: *configFile, kubeconfig: *kubeconfig, nodeName: *nodeName, output: *output,
			timeout: *onceTimeout, maxInFlight: *maxInFlight, execEnv: *execEnv, dns: dns}, os.Stdout, os.Stderr, logger)
	}
	logger.Info("starting probe-exporter", "version", version.Info(), "build_context", version.BuildContext())

	if *autoReload && *configFile == "" {
		logger.Error("--config.auto-reload needs --config.file")
		return 1
	}
	if *autoReloadInterval < time.Second {
		logger.Error("--config.auto-reload-interval must be at least 1s", "value", *autoReloadInterval)
		return 1
	}
	var listeners []net.Listener
	selfHost, selfPort := "", 0
	if *webFlags.WebSystemdSocket {
		// systemd hands over the sockets; the embedded default can't know
		// which port to probe.
		if *configFile == "" {
			logger.Error("--web.systemd-socket needs --config.file")
			return 1
		}
	} else {
		var err error
		if listeners, err = exporterweb.Listen(*webFlags.WebListenAddresses); err != nil {
			logger.Error("cannot listen", "err", err)
			return 1
		}
		var ok bool
		if selfHost, selfPort, ok = exporterweb.SelfAddress(listeners); !ok && *configFile == "" {
			logger.Error("the embedded default probes the exporter over TCP: give a TCP --web.listen-address too, or --config.file")
			return 1
		}
	}
	https, err := exporterweb.ServesTLS(*webFlags.WebConfigFile)
	if err != nil {
		logger.Error("cannot read --web.config.file", "err", err)
		return 1
	}
	// load makes the running configuration of the file's content (read
	// by the reloader, so that what it watches is what was loaded), or the
	// embedded default.
	load := func(data []byte) (*config.Config, error) {
		if *configFile == "" {
			return config.Default(selfHost, selfPort, https)
		}
		return config.Parse(data, *configFile)
	}
	var cfg *config.Config
	if *configFile == "" {
		cfg, err = load(nil)
	} else {
		cfg, err = config.Load(*configFile)
	}
	if err != nil {
		logger.Error("invalid configuration", "file", *configFile, "err", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("probe_exporter"),
	)
	p := newPipeline(pipelineOptions{logger: logger, schedLogger: logger, dns: dns, execEnv: *execEnv, maxInFlight: *maxInFlight,
		kubeconfig: *kubeconfig, nodeName: *nodeName, shard: *shard, totalShards: *totalShards}, reg)
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
	rl := reload.New(reload.Options{Logger: logger, Path: *configFile, Load: load, Apply: apply}, reg)
	if err := rl.Start(cfg); err != nil {
		logger.Error("cannot apply configuration", "err", err)
		return 1
	}
	logLoaded(logger, "configuration loaded", *configFile, cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer stopSched()
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(schedCtx) }()
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
	if *autoReload {
		go rl.Watch(schedCtx, *autoReloadInterval)
	}

	slow := promhttp.HandlerFor(prometheus.Gatherers{reg, probeReg}, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
	opts := exporterweb.Options{
		Logger:  logger,
		Metrics: promhttp.InstrumentMetricHandler(reg, exporterweb.Scrapes(collector.Handler(probes, reg, slow, logger), exporterweb.ScrapeOptions{Key: collector.Negotiate})),
		Ready:   ready.Load,
		Pprof:   *pprof,
		Site: &exporterweb.Site{Probes: sched, LastReload: rl.Last, Entries: func() []string {
			var names []string
			for _, e := range running.Load().Targets {
				names = append(names, e.Name)
			}
			return names
		}},
		Probe: &exporterweb.ProbeOptions{Config: running.Load, Probers: probers, Targets: sched, Requests: exporterweb.NewProbeRequests(reg)},
	}
	if *lifecycle {
		opts.Reload = rl.Reload
	}
	if *configFile == "" {
		opts.Endpoints = append(opts.Endpoints, exporterweb.Endpoint{Path: "/demo/flapping", Text: "Demo target (30 s up, 30 s down)", Handler: exporterweb.Flapping(time.Now())})
	}
	handler, err := exporterweb.Handler(opts)
	if err != nil {
		logger.Error("web", "err", err)
		return 1
	}
	srv := exporterweb.NewServer(handler, logger)
	serveErr := make(chan error, 1)
	go func() {
		if listeners == nil {
			serveErr <- web.ListenAndServe(srv, webFlags, logger)
			return
		}
		serveErr <- web.ServeMultiple(listeners, srv, webFlags, logger)
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
	// Probing stops first (every attempt cancelled, exec process groups
	// killed and waited for, leftovers killed), then the listener drains
	// with what is left of the budget: a slow HTTP client must not leave
	// processes running when we exit.
	ready.Store(false)
	stopping := time.Now()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	stopSched()
	select {
	case <-schedDone:
	case <-shutdownCtx.Done():
		logger.Warn("probes still running at shutdown")
	}
	p.stopReaper()
	logger.Info("probing stopped", "took", time.Since(stopping).Round(time.Millisecond))
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	logger.Info("stopped", "took", time.Since(stopping).Round(time.Millisecond))
	return code
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
