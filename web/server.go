package web

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"

	"github.com/probe-exporter/probe-exporter/reload"
)

// Options are what the endpoints serve.
type Options struct {
	Logger *slog.Logger
	// Metrics serves /metrics.
	Metrics http.Handler
	// Ready answers /-/ready; it is Ready until told otherwise (shutdown).
	Ready func() bool
	// Reload runs a configuration reload for POST /-/reload; nil (no
	// --web.enable-lifecycle) answers 403.
	Reload func() error
	// Pprof serves /debug/pprof/ and links it from the landing page.
	Pprof bool
	// Site, when set, serves the site's pages (the status page and its
	// APIs) over its read model.
	Site *Site
	// Probe, when set, serves /probe (on only while the configuration
	// has a probeEndpoint block).
	Probe *ProbeOptions
	// Endpoints are served beside the site's pages (the demo target).
	Endpoints []Endpoint
}

// Handler is the exporter's mux.
func Handler(o Options) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", o.Metrics)
	mux.HandleFunc("GET /favicon.ico", serveFavicon)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil && !o.Ready() {
			http.Error(w, "Not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case o.Reload == nil:
			http.Error(w, "Lifecycle API is not enabled (--web.enable-lifecycle).", http.StatusForbidden)
		case r.Method != http.MethodPost && r.Method != http.MethodPut:
			http.Error(w, "Use POST or PUT.", http.StatusMethodNotAllowed)
		default:
			if err := o.Reload(); err != nil {
				code := http.StatusInternalServerError
				if errors.Is(err, reload.ErrBusy) {
					code = http.StatusServiceUnavailable // not this file's fault: ask again
				}
				http.Error(w, "Reload failed; the previous configuration is still running:\n"+err.Error(), code)
				return
			}
			fmt.Fprintln(w, "Reloaded")
		}
	})
	links := []web.LandingLinks{
		{Address: "/metrics", Text: "Metrics"},
		{Address: "/-/healthy", Text: "Health"},
		{Address: "/-/ready", Text: "Readiness"},
	}
	if o.Probe != nil {
		mux.Handle("/probe", &probeHandler{o: *o.Probe})
	}
	var all []Page
	if o.Site != nil {
		o.Site.views = limit(statusViews)
		all = append(all, pages...)
	}
	for _, e := range o.Endpoints {
		all = append(all, e)
	}
	for _, p := range all {
		p.Routes(mux, o.Site)
		if l := p.Link(); l.Text != "" {
			links = append(links, l)
		}
	}
	profiling := "false"
	if o.Pprof {
		registerPprof(mux)
		profiling = "true"
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "probe-exporter",
		Description: "Kubernetes probes, with the kubelet's semantics, as Prometheus metrics",
		Version:     version.Info(),
		Links:       links,
		// The toolkit links pprof unless told not to: only when served.
		Profiling: profiling,
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	mux.Handle("/", landing)
	return mux, nil
}

// NewServer is the exporter's http.Server around h.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A scrape of 100k targets renders a lot; leave it room.
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     stdlog.New(serverLog{log}, "", 0),
	}
}

// serverLog takes net/http's server errors: a TLS handshake that ends at
// once (a TCP check, the embedded default's own startup probe, a load
// balancer's health check) is routine and logged at debug; the rest warn.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") && (strings.HasSuffix(msg, ": EOF") || strings.HasSuffix(msg, "connection reset by peer")) {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// ServesTLS reports whether an exporter-toolkit web config file turns
// TLS on, so that the embedded default's self-probes speak HTTPS to it.
func ServesTLS(webConfigFile string) (bool, error) {
	if webConfigFile == "" {
		return false, nil
	}
	data, err := os.ReadFile(webConfigFile)
	if err != nil {
		return false, err
	}
	var c struct {
		TLS *struct {
			CertFile string `yaml:"cert_file"`
			Cert     string `yaml:"cert"`
		} `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return false, fmt.Errorf("%s: %w", webConfigFile, err)
	}
	return c.TLS != nil && (c.TLS.CertFile != "" || c.TLS.Cert != ""), nil
}
