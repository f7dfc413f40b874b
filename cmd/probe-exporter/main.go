// Command probe-exporter runs Kubernetes-style probes against targets and
// exposes the thresholded results for Prometheus. This file is flags and
// wiring only.
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
	"sync"
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
	"github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
)

const defaultListen = ":9878"

func main() { os.Exit(run()) }

func run() int {
	app := kingpin.New("probe-exporter",
		"Runs Kubernetes probes (httpGet, tcpSocket, exec, grpc) with the kubelet's semantics against targets and exports the results for Prometheus.")
	configFile := app.Flag("config.file", "Configuration file. Without it, an embedded default probes the exporter itself.").String()
	configCheck := app.Flag("config.check", "Validate --config.file and exit: 0 when valid, 1 with every error otherwise.").Bool()
	maxInFlight := app.Flag("probe.max-in-flight", "Most probes running at once; due probes beyond it wait (probe_exporter_probes_waiting).").Default("2000").Int()
	lifecycle := app.Flag("web.enable-lifecycle", "Enable configuration reload through HTTP POST to /-/reload.").Bool()
	kubeconfig := app.Flag("kubeconfig", "Kubeconfig for kubernetes entries that name none, when not running in a cluster (then $KUBECONFIG, ~/.kube/config).").String()
	nodeName := app.Flag("node-name", "This exporter's node, for kubernetes entries with scope node or mesh (DaemonSet: the downward API's spec.nodeName).").Envar("NODE_NAME").String()
	shard := app.Flag("shard", "This replica's shard, from 0 to --total-shards minus 1.").Default("0").Int()
	totalShards := app.Flag("total-shards", "Replicas that split the targets between them by a stable hash; every replica runs with the same configuration.").Default("1").Int()
	webFlags := kingpinflag.AddFlags(app, defaultListen)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("probe-exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (try --help)\n", err)
		return 2
	}
	prober.SetVersion(version.Version)
	if *totalShards < 1 || *shard < 0 || *shard >= *totalShards {
		fmt.Fprintf(os.Stderr, "probe-exporter: %v (got --shard=%d --total-shards=%d)\n", targets.ErrShard, *shard, *totalShards)
		return 2
	}

	if *configCheck {
		return checkConfig(*configFile)
	}
	logger := promslog.New(logConfig)
	logger.Info("starting probe-exporter", "version", version.Info(), "build_context", version.BuildContext())

	var listeners []net.Listener
	port := 0
	if *webFlags.WebSystemdSocket {
		// systemd hands over the sockets; the embedded default can't know
		// which port to probe.
		if *configFile == "" {
			logger.Error("--web.systemd-socket needs --config.file")
			return 1
		}
	} else {
		var err error
		if listeners, port, err = listen(*webFlags.WebListenAddresses); err != nil {
			logger.Error("cannot listen", "err", err)
			return 1
		}
	}
	load := func() (*config.Config, error) {
		if *configFile == "" {
			return config.Default(port)
		}
		return config.Load(*configFile)
	}
	cfg, err := load()
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
	sched := scheduler.New(scheduler.Options{MaxInFlight: *maxInFlight, Logger: logger}, reg)
	// Per-probe series have their own registry: /metrics writes them
	// directly for the text formats and uses it only for protobuf.
	probes := collector.New(sched)
	probeReg := prometheus.NewRegistry()
	probeReg.MustRegister(probes)
	kubeCtx, stopKube := context.WithCancel(context.Background())
	defer stopKube()
	kube := kubernetes.New(kubeCtx, kubernetes.Options{
		Kubeconfig: *kubeconfig,
		NodeName:   *nodeName,
		UserAgent:  "probe-exporter/" + version.Version,
		Logger:     logger,
	}, reg)
	mgr := targets.NewManager(sched, targets.Options{Kubernetes: kube, Shard: *shard, TotalShards: *totalShards})
	defer mgr.Close()
	rl := newReloader(logger, reg, load, mgr.Apply)
	if err := rl.apply(cfg); err != nil {
		logger.Error("cannot apply configuration", "err", err)
		return 1
	}

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
			_ = rl.reload()
		}
	}()

	mux := http.NewServeMux()
	slow := promhttp.HandlerFor(prometheus.Gatherers{reg, probeReg}, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, limitInFlight(4,
		collector.Handler(probes, reg, slow, logger))))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !*lifecycle:
			http.Error(w, "Lifecycle API is not enabled (--web.enable-lifecycle).", http.StatusForbidden)
		case r.Method != http.MethodPost && r.Method != http.MethodPut:
			http.Error(w, "Use POST or PUT.", http.StatusMethodNotAllowed)
		default:
			if err := rl.reload(); err != nil {
				http.Error(w, "Reload failed; the previous configuration is still running:\n"+err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "Reloaded")
		}
	})
	if *configFile == "" {
		mux.HandleFunc("/demo/flapping", flapping(time.Now()))
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "probe-exporter",
		Description: "Kubernetes probes, with the kubelet's semantics, as Prometheus metrics",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		logger.Error("landing page", "err", err)
		return 1
	}
	mux.Handle("/", landing)

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A scrape of 100k targets renders a lot; leave it room.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
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
	ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	stopSched()
	select {
	case <-schedDone:
	case <-shutdownCtx.Done():
		logger.Warn("probes still running at shutdown")
	}
	return code
}

// limitInFlight answers 503 beyond n concurrent requests: scrapes of 100k
// targets are not free, and a pile-up must not take the exporter down.
func limitInFlight(n int, h http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			h.ServeHTTP(w, r)
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", n), http.StatusServiceUnavailable)
		}
	})
}

// listen opens every listen address up front, so the embedded default can
// probe the port really bound (":0" included).
func listen(addrs []string) ([]net.Listener, int, error) {
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, 0, err
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, 0, errors.New("no --web.listen-address")
	}
	return ls, ls[0].Addr().(*net.TCPAddr).Port, nil
}

func checkConfig(file string) int {
	if file == "" {
		fmt.Fprintln(os.Stderr, "--config.check needs --config.file")
		return 2
	}
	cfg, err := config.Load(file)
	if err == nil {
		for i := range cfg.Targets {
			if _, err = targets.NewEntry(&cfg.Targets[i]); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "FAILED: %s is not valid\n", file)
		return 1
	}
	hosts, probes, discovered := 0, 0, 0
	for _, t := range cfg.Targets {
		hosts += len(t.Static)
		probes += len(t.Static) * len(t.Probes())
		if t.Kubernetes != nil {
			discovered++
		}
	}
	fmt.Printf("SUCCESS: %s is valid: %d target entries (%d static hosts with %d probes, %d discovered from Kubernetes)\n",
		file, len(cfg.Targets), hosts, probes, discovered)
	return 0
}

// reloader applies configurations and says how the last reload went in
// metrics, as Prometheus does: a failed reload keeps the running config.
type reloader struct {
	log   *slog.Logger
	load  func() (*config.Config, error)
	apply func(*config.Config) error

	mu      sync.Mutex
	success prometheus.Gauge
	last    prometheus.Gauge
}

func newReloader(log *slog.Logger, reg prometheus.Registerer, load func() (*config.Config, error), apply func(*config.Config) error) *reloader {
	r := &reloader{log: log, load: load,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or kept the previous configuration (0).",
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "probe_exporter_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
	}
	r.apply = func(c *config.Config) error {
		if err := apply(c); err != nil {
			r.success.Set(0)
			return err
		}
		r.success.Set(1)
		r.last.SetToCurrentTime()
		return nil
	}
	reg.MustRegister(r.success, r.last)
	return r
}

func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := r.load()
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.log.Error("configuration reload failed; keeping the previous configuration", "err", err)
		return err
	}
	r.log.Info("configuration reloaded", "target_entries", len(cfg.Targets))
	return nil
}

// flapping serves the embedded default's demo target: 200 for 30 s, then
// 503 for 30 s, and so on.
func flapping(start time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		phase := int(time.Since(start)/(30*time.Second)) % 2
		if phase == 1 {
			http.Error(w, "down (demo: 30 s up, 30 s down)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "up (demo: 30 s up, 30 s down); phase "+strconv.Itoa(phase))
	}
}
