package scheduler

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// specsFor builds what the targets package builds for n static hosts with
// one httpGet readiness probe: real probers, label values and addresses.
func specsFor(n int) []Target {
	p, err := prober.NewEnv(prober.EnvOptions{}).New(&probe.Probe{
		HTTPGet:        &probe.HTTPGetAction{Path: "/healthz", Port: probe.IntOrString{IntVal: 8080}, Scheme: "HTTP"},
		TimeoutSeconds: 1,
	})
	if err != nil {
		panic(err)
	}
	names := series.NewNames([]string{"target", "kind", "address", "zone"})
	ts := make([]Target, n)
	for i := range ts {
		host := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		pt := &prober.Target{Host: host}
		ts[i] = Target{Key: host + "|0", Specs: []Spec{{
			Kind: probe.Readiness, Prober: p, Target: pt,
			Period: time.Hour, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3,
			Entry: "web", Labels: series.New(names, []string{"web", "readiness", p.Address(pt), "a"}),
			Identity: "readiness{...}",
		}}}
	}
	return ts
}

// BenchmarkMemoryPerTarget measures the heap and stacks one idle target
// costs in a running scheduler (B/target), next to the baseline a naive
// design pays in the same run for the same specs plus one goroutine per
// target waiting on its ticker ("x-goroutine" is our cost over that).
func BenchmarkMemoryPerTarget(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			var ours, naive float64
			for i := 0; i < b.N; i++ {
				base := heapInUse()
				ts := specsFor(n)

				// Baseline: a goroutine and a ticker per target.
				stop := make(chan struct{})
				done := make(chan struct{}, n)
				for range ts {
					go func() {
						t := time.NewTicker(time.Hour)
						defer t.Stop()
						select {
						case <-stop:
						case <-t.C:
						}
						done <- struct{}{}
					}()
				}
				naive += float64(heapInUse()-base) / float64(n)
				close(stop)
				for range ts {
					<-done
				}

				s := New(Options{}, nil)
				pastStartup(s) // no start-up jitter: all due in an hour
				ctx, cancel := context.WithCancel(context.Background())
				ran := make(chan struct{})
				go func() { defer close(ran); s.Run(ctx) }()
				s.Sync("static/web", ts)
				for i := range ts {
					// What the scheduler holds is what counts; let the
					// caller's slice go as Sync's callers do.
					ts[i] = Target{}
				}
				ours += float64(heapInUse()-base) / float64(n)
				cancel()
				<-ran
				runtime.KeepAlive(s)
			}
			ours /= float64(b.N)
			naive /= float64(b.N)
			b.ReportMetric(ours, "B/target")
			b.ReportMetric(naive, "B/goroutine-baseline")
			b.ReportMetric(ours/naive, "x-goroutine")
		})
	}
}

// BenchmarkDispatch measures the scheduler's own cost per probe run with a
// prober that returns at once: the overhead on top of the probe itself.
func BenchmarkDispatch(b *testing.B) {
	for _, targets := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("waiting=%d", targets), func(b *testing.B) { benchmarkDispatch(b, targets) })
	}
}

// benchmarkDispatch makes n probes due at once behind 100 slots, and
// times until every one has run: each op is one dispatch, with up to n
// waiting. Setting up each round of n is not timed. (A period short
// enough to keep n probes due forever would now have them skipped as a
// whole period late.)
func benchmarkDispatch(b *testing.B, n int) {
	f := &fakeProber{outcome: prober.Outcome{Result: prober.Success}}
	var ts []Target
	for i := 0; i < n; i++ {
		ts = append(ts, Target{Key: fmt.Sprint(i), Specs: []Spec{spec(probe.Readiness, f, time.Hour)}})
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		b.StopTimer()
		s := New(Options{MaxInFlight: 100}, nil)
		pastStartup(s)
		// Distinct series (syncT): identical ones would stand by for each
		// other and only one would run.
		syncT(s, "src", ts)
		start := f.calls.Load()
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		b.StartTimer()
		go func() { defer close(ran); s.Run(ctx) }()
		for f.calls.Load()-start < int64(n) {
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		cancel()
		<-ran
		b.StartTimer()
	}
}
