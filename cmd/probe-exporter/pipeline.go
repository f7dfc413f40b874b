package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/probe-exporter/probe-exporter/discovery"
	// The discovery mechanisms: each registers its block and runtime (a
	// new mechanism is its folder and one line here).
	_ "github.com/probe-exporter/probe-exporter/discovery/dns"
	_ "github.com/probe-exporter/probe-exporter/discovery/kubernetes"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/scheduler"
	"github.com/probe-exporter/probe-exporter/targets"
)

// pipeline is what every command probes with — the exporter, --once and
// check build it here, the same way: discovery → targets → scheduler →
// prober → state. The commands differ only in what reads it (the
// collector and web, or once).
type pipeline struct {
	reaper  *prober.Reaper // nil where the platform has none
	probers *prober.Env
	sched   *scheduler.Scheduler
	disc    *discovery.Manager // runs every entry's source
	mgr     *targets.Manager   // turns their groups into the scheduler's targets
	stop    context.CancelFunc // discovery's informers and refreshes
}

// pipelineOptions are the flags the pipeline is built from.
type pipelineOptions struct {
	logger *slog.Logger
	// schedLogger logs state changes; nil for none (--once: the table
	// says it all).
	schedLogger          *slog.Logger
	dns                  *dnsSettings
	execEnv              []string
	maxInFlight          int
	adaptiveInFlight     bool
	noStartupJitter      bool
	kubeconfig, nodeName string
	shard, totalShards   int
	// onTransition hears the scheduler's thresholded state changes (the
	// Kubernetes Events, when on).
	onTransition func(scheduler.Transition)
}

// newPipeline builds the pipeline and registers its metrics with reg. It
// starts nothing but the exec reaper and discovery's shared context: the
// caller runs the scheduler, and applies a configuration to mgr.
func newPipeline(o pipelineOptions, reg prometheus.Registerer) *pipeline {
	p := &pipeline{}
	// Exec probes' leftovers (a daemonized grandchild, an orphan when we
	// are PID 1) are re-parented to us, reaped and killed.
	reaper, err := prober.StartReaper()
	if err != nil {
		o.logger.Warn("exec probes' escaped descendants will not be reaped", "err", err)
	} else {
		p.reaper = reaper
		registerReaper(reg, reaper)
	}
	nw := o.dns.network(reg, o.logger)
	p.probers = prober.NewEnv(prober.EnvOptions{Version: version.Version, ExecEnv: o.execEnv, Reaper: p.reaper, Resolvers: nw.pool, Resolv: nw.conf})
	p.sched = scheduler.New(scheduler.Options{MaxInFlight: o.maxInFlight, AdaptiveInFlight: o.adaptiveInFlight, Logger: o.schedLogger, NoStartupJitter: o.noStartupJitter, OnTransition: o.onTransition}, reg)
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	dm := discovery.NewMetrics(reg)
	p.disc = discovery.NewManager(discovery.Discoverers(discovery.Deps{Ctx: ctx, Kubeconfig: o.kubeconfig, NodeName: o.nodeName,
		UserAgent: "probe-exporter/" + version.Version, Resolvers: nw.pool, Resolv: &nw.conf,
		Logger: o.logger, Metrics: dm, Registerer: reg}), dm)
	p.mgr = targets.NewManager(p.sched, targets.Options{Discovery: p.disc, Probers: p.probers, Host: discovery.Host{NodeName: o.nodeName},
		Shard: o.shard, TotalShards: o.totalShards})
	return p
}

// close stops discovery and removes its targets; the reaper is stopped
// by stopReaper, after the scheduler (its probes' processes first).
func (p *pipeline) close() {
	p.mgr.Close()
	p.stop()
}

// stopReaper stops the exec reaper, if there is one.
func (p *pipeline) stopReaper() {
	if p.reaper != nil {
		p.reaper.Stop()
	}
}
