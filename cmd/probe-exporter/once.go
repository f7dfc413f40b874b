package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/once"
)

// onceOptions are the flags --once reads.
type onceOptions struct {
	configFile, kubeconfig, nodeName, output string
	timeout                                  time.Duration
	maxInFlight                              int
	execEnv                                  []string
	dns                                      *dnsSettings
}

// Exit codes of --once (and check): every state Success, not, could not
// run.
const (
	exitSuccess = 0
	exitFailure = 1
	exitCantRun = 2
)

// runOnceMode runs every configured probe until each (target, kind) has the
// answer its thresholds give, or the deadline, prints the results and
// returns the exit code. No listener, no metrics: a command for a bastion
// or a CI job.
func runOnceMode(o onceOptions, stdout, stderr io.Writer, logger *slog.Logger) int {
	if o.output != "table" && o.output != "json" {
		fmt.Fprintf(stderr, "probe-exporter: --output is table or json, not %q\n", o.output)
		return exitCantRun
	}
	if o.configFile == "" {
		fmt.Fprintln(stderr, "probe-exporter: --once needs --config.file")
		return exitCantRun
	}
	cfg, err := config.Load(o.configFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCantRun
	}
	if hosts, discovered := counts(cfg); hosts == 0 && discovered == 0 {
		fmt.Fprintf(stderr, "probe-exporter: %s has no targets to probe\n", o.configFile)
		return exitCantRun
	}
	return probeOnce(cfg, nil, o, stdout, stderr, logger)
}

// probeOnce runs cfg's probes until their thresholds answer, prints them
// with extra (answers known without probing) and returns the exit code.
func probeOnce(cfg *config.Config, extra []once.Result, o onceOptions, stdout, stderr io.Writer, logger *slog.Logger) int {
	// State changes would be noise on a terminal: the table says it all.
	p := newPipeline(pipelineOptions{logger: logger, dns: o.dns, execEnv: o.execEnv, maxInFlight: o.maxInFlight,
		noStartupJitter: true, kubeconfig: o.kubeconfig, nodeName: o.nodeName}, prometheus.NewRegistry())
	defer p.stopReaper()
	defer p.close()
	sched, mgr := p.sched, p.mgr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := mgr.Apply(cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return exitCantRun
	}
	done := make(chan struct{})
	go func() { defer close(done); sched.Run(ctx) }()
	defer func() { cancel(); <-done }()

	runCtx, stop := context.WithTimeout(ctx, o.timeout)
	defer stop()
	// Answers count only once every entry's discovery has delivered all
	// it found: a target discovered late would otherwise be left out.
	synced := mgr.Synced
	var results []once.Result
	if len(cfg.Targets) > 0 {
		results = once.Run(runCtx, sched, synced, 50*time.Millisecond)
	}
	results = once.Sort(append(results, extra...))
	if len(results) == 0 {
		fmt.Fprintln(stderr, "probe-exporter: no targets were found to probe")
		return exitCantRun
	}
	write := once.WriteTable
	if o.output == "json" {
		write = once.WriteJSON
	}
	if err := write(stdout, results); err != nil {
		fmt.Fprintln(stderr, err)
		return exitCantRun
	}
	return once.ExitCode(results)
}
