// Package scheduler owns the life of every (target, probe kind): when it
// runs, how many run at once, and starting and stopping work as targets
// come and go. It runs the kubelet worker's loop for each, logically: an
// idle probe is a small struct in a timing heap, not a goroutine, so 100k
// targets cost memory in the low KiB each.
package scheduler

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// Spec is one probe of one target: what to run and when.
type Spec struct {
	Kind   probe.Kind
	Prober prober.Prober
	Target *prober.Target
	// Definition is the probe as written (the entry's, or a container's
	// own), for the status views; read only.
	Definition *probe.Probe

	InitialDelay     time.Duration
	Period           time.Duration
	Timeout          time.Duration
	SuccessThreshold int32
	FailureThreshold int32

	// Entry is the config entry (the target label).
	Entry string
	// Labels are the series' labels. They may change while the probe
	// keeps its state (an endpoint that turns ready keeps its identity):
	// the scheduler writes them (and Target) holding both its own and the
	// worker's lock, so either lock suffices to read them.
	Labels *series.Labels
	// Identity tells a changed definition from an unchanged one: a target
	// whose probes keep their Identity keeps its state across a Sync.
	Identity string
}

// Target is one thing to probe, with up to one probe of each kind.
type Target struct {
	// Key is the target's identity within its source.
	Key   string
	Specs []Spec
	// Since is when the target started, for initialDelaySeconds (a
	// container's startedAt); zero means when the scheduler first sees it.
	Since time.Time
}

// Scheduler runs probes. Create with New, start with Run.
type Scheduler struct {
	noJitter     bool
	log          *slog.Logger
	now          func() time.Time
	onTransition func(Transition)

	mu      sync.Mutex
	sources map[string]map[string]*target
	series  seriesIndex
	// active: the probes that run and render, flat, for readers.
	active activeSet
	queue  workerHeap
	// handoff, while a runner dispatches after its run (handingOff),
	// takes the first run started, for that runner to run next.
	handoff    run
	handingOff bool
	// parked: runners waiting for a run, each on its own channel (see
	// maxParked).
	parked []chan run
	// busy slots under the in-flight limit, and per entry the probes that
	// are due and wait for one (see dispatchLocked).
	busy     int
	limit    inFlightLimit
	standing standingQueue
	// limitNow mirrors limit.value for the metric.
	limitNow atomic.Int64
	lanes    map[string]*lane
	// dialed: the addresses network probes dial (Probing).
	dialed dialedIndex
	// ready are the lanes with probes waiting: what a dispatch looks at.
	ready   []*lane
	started time.Time
	wake    chan struct{}

	inFlight atomic.Int64
	waiting  atomic.Int64
	running  sync.WaitGroup
	// runners counts the goroutines started to run probes (see runner).
	runners atomic.Int64

	transitions logLimiter

	lateness prometheus.Histogram
	attempts *prometheus.CounterVec
	// attemptCounters are attempts' children by probe type, resolved once:
	// an attempt increments one without hashing label values.
	countersMu      sync.Mutex
	attemptCounters map[prober.Type]*[3]prometheus.Counter // success, failure, error
}

type target struct {
	key string
	// appeared is an offset from Scheduler.started (64 bytes a target,
	// not 80, with a time.Time).
	appeared time.Duration
	workers  []*worker
	startup  *worker // gates the others until it succeeds
	active   int     // its probes in Scheduler.active
}

type worker struct {
	t    *target
	spec Spec

	// A worker is kept per probe, 100k of them in a normal load: its
	// fields are chosen and ordered so that it fits 320 bytes, a size
	// class below the 384 it took (TestWorkerSize). Times are offsets or
	// UnixNano, not time.Time (three words each); small fields share words.

	// Guarded by Scheduler.mu.
	// next is the planned start, as an offset from Scheduler.started
	// (monotonic: a stepped wall clock doesn't reorder; see at, offset).
	next  time.Duration
	index int32 // in the heap, -1 when not
	// activeAt is its place in Scheduler.active, -1 when not there.
	activeAt int32
	// stop is the run in progress's, nil when none. (Allocated per run,
	// to keep the worker small.)
	stop    *prober.Stop
	removed bool
	// standby: another source's probe renders the same series (see
	// seriesIndex); this one neither runs nor renders.
	standby bool
	// queued: due, waiting in its entry's lane for a slot.
	queued bool
	// said (guarded by mu): the probe's state has been logged at info
	// once (a change, or a readiness probe failing from its start, which
	// changes nothing).
	said bool
	// lastStart is when it last started (UnixNano, 0: never), to rotate
	// skipped ticks among probes planned for the same instant.
	lastStart int64
	lane      *lane

	mu  sync.Mutex
	rec state.Record

	// due mirrors next while the worker is in the heap (UnixNano; 0 when
	// not), for Each to read without Scheduler.mu or an allocation.
	due atomic.Int64
}

// at is the instant of an offset from s.started (a worker's next).
func (s *Scheduler) at(d time.Duration) time.Time { return s.started.Add(d) }

// offset is t as an offset from s.started.
func (s *Scheduler) offset(t time.Time) time.Duration { return t.Sub(s.started) }

// Options configure a Scheduler.
type Options struct {
	// MaxInFlight bounds the probes running at once; due probes beyond it
	// wait (and show as late).
	MaxInFlight int
	// AdaptiveInFlight makes MaxInFlight a ceiling: the bound follows
	// what the CPU can run on time (see inFlightLimit).
	AdaptiveInFlight bool
	// schedLatency and adjustEvery replace the runtime's scheduling
	// latency and the adjustment interval (tests).
	schedLatency func() time.Duration
	adjustEvery  time.Duration
	Logger       *slog.Logger
	// OnTransition, when set, hears every thresholded state change, from
	// the goroutine that ran the attempt: it must not block (hand the
	// transition to a bounded queue).
	OnTransition func(Transition)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoStartupJitter probes targets known at start at once, instead of
	// spreading them over their first period (for --once: one run).
	NoStartupJitter bool
}

// New returns a scheduler that registers its own metrics with reg.
func New(o Options, reg prometheus.Registerer) *Scheduler {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Scheduler{
		noJitter:        o.NoStartupJitter,
		limit:           newInFlightLimit(o.MaxInFlight, o.AdaptiveInFlight, o.schedLatency, o.adjustEvery),
		lanes:           map[string]*lane{},
		dialed:          dialedIndex{},
		log:             o.Logger,
		now:             o.Now,
		onTransition:    o.OnTransition,
		sources:         map[string]map[string]*target{},
		series:          newSeriesIndex(),
		active:          activeSet{targets: map[string]int{}},
		attemptCounters: map[prober.Type]*[3]prometheus.Counter{},
		wake:            make(chan struct{}, 1),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "probe_exporter_schedule_lateness_seconds",
			Help: "How late probes started: actual start minus planned start.",
			// From scheduling noise to a saturated in-flight limit.
			Buckets:                         []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probe_exporter_probe_attempts_total",
			Help: "Probe attempts by probe type and result, retries of errored attempts included.",
		}, []string{"type", "result"}),
	}
	s.limitNow.Store(int64(s.limit.value))
	s.started = s.now()
	s.queue.base = s.started
	if reg != nil {
		reg.MustRegister(s.lateness, s.attempts,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "probe_exporter_probes_in_flight",
				Help: "Probes running now.",
			}, func() float64 { return float64(s.inFlight.Load()) }),
			lanesCollector{s},
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "probe_exporter_probes_max_in_flight",
				Help: "The configured bound on probes running at once (--probe.max-in-flight).",
			}, func() float64 { return float64(s.limit.ceiling) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "probe_exporter_probes_in_flight_limit",
				Help: "The bound on probes running at once now: probe_exporter_probes_max_in_flight, or less while the CPU can't run more on time (--probe.adaptive-in-flight).",
			}, func() float64 { return float64(s.limitNow.Load()) }),
		)
		for _, typ := range prober.Types {
			for _, res := range []string{"success", "failure", "error"} {
				s.attempts.WithLabelValues(typ.String(), res)
			}
		}
	}
	return s
}
