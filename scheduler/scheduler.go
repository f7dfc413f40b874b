// Package scheduler owns the life of every (target, probe kind): when it
// runs, how many run at once, and starting and stopping work as targets
// come and go. It runs the kubelet worker's loop for each, logically: an
// idle probe is a small struct in a timing heap, not a goroutine, so 100k
// targets cost memory in the low KiB each.
package scheduler

import (
	"container/heap"
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/prober"
	"github.com/probe-exporter/probe-exporter/series"
	"github.com/probe-exporter/probe-exporter/state"
)

// Spec is one probe of one target: what to run and when.
type Spec struct {
	Kind   config.Kind
	Prober prober.Prober
	Target *prober.Target
	// Definition is the probe as written (the entry's, or a container's
	// own), for the status views; read only.
	Definition *config.Probe

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
	maxInFlight int
	noJitter    bool
	log         *slog.Logger
	now         func() time.Time

	mu      sync.Mutex
	sources map[string]map[string]*target
	series  seriesIndex
	queue   workerHeap
	// free slots under maxInFlight, and per entry the probes that are due
	// and wait for one (see dispatchLocked).
	free  int
	lanes map[string]*lane
	// ready are the lanes with probes waiting: what a dispatch looks at.
	ready   map[*lane]struct{}
	started time.Time
	wake    chan struct{}

	inFlight atomic.Int64
	waiting  atomic.Int64
	running  sync.WaitGroup

	transitions logLimiter

	lateness prometheus.Histogram
	attempts *prometheus.CounterVec
	// attemptCounters are attempts' children by probe type, resolved once:
	// an attempt increments one without hashing label values.
	countersMu      sync.Mutex
	attemptCounters map[prober.Type]*[3]prometheus.Counter // success, failure, error
}

type target struct {
	key      string
	appeared time.Time
	workers  []*worker
	startup  *worker // gates the others until it succeeds
}

type worker struct {
	t    *target
	spec Spec

	// Guarded by Scheduler.mu.
	next    time.Time
	index   int // in the heap, -1 when not
	cancel  context.CancelFunc
	removed bool
	// standby: another source's probe renders the same series (see
	// seriesIndex); this one neither runs nor renders.
	standby bool
	// queued: due, waiting in its entry's lane for a slot.
	queued bool
	lane   *lane

	mu  sync.Mutex
	rec state.Record
	// said: the probe's state has been logged at info once (a change, or
	// a readiness probe failing from its start, which changes nothing).
	said bool

	// due mirrors next while the worker is in the heap (UnixNano; 0 when
	// not), for Each to read without Scheduler.mu or an allocation.
	due atomic.Int64
}

// Options configure a Scheduler.
type Options struct {
	// MaxInFlight bounds the probes running at once; due probes beyond it
	// wait (and show as late).
	MaxInFlight int
	Logger      *slog.Logger
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
		maxInFlight:     o.MaxInFlight,
		noJitter:        o.NoStartupJitter,
		free:            o.MaxInFlight,
		lanes:           map[string]*lane{},
		ready:           map[*lane]struct{}{},
		log:             o.Logger,
		now:             o.Now,
		sources:         map[string]map[string]*target{},
		series:          seriesIndex{},
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
	s.started = s.now()
	if reg != nil {
		reg.MustRegister(s.lateness, s.attempts,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "probe_exporter_probes_in_flight",
				Help: "Probes running now.",
			}, func() float64 { return float64(s.inFlight.Load()) }),
			waitingCollector{s},
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "probe_exporter_probes_max_in_flight",
				Help: "The configured bound on probes running at once.",
			}, func() float64 { return float64(s.maxInFlight) }),
		)
		for _, typ := range prober.Types {
			for _, res := range []string{"success", "failure", "error"} {
				s.attempts.WithLabelValues(typ.String(), res)
			}
		}
	}
	return s
}

// Sync makes the targets of source exactly ts. A probe keeps its state
// and schedule while its identity holds: the same target Key, kind and
// definition (Identity) and the same address, the one label that says
// where requests go. Other labels, and target details that don't change
// the address (an exec probe's variables), may change under it: the next
// attempt uses them. A probe whose identity changed starts afresh, at
// once; those missing stop at once (a running attempt is cancelled and its
// result dropped). Sync(source, nil) removes the source.
//
// Probes of different sources can describe the same series (one endpoint
// in two EndpointSlices): the first one seen runs and is rendered, the
// others wait behind it and take over when it goes.
func (s *Scheduler) Sync(source string, ts []Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	old := s.sources[source]
	next := make(map[string]*target, len(ts))
	added, removed := 0, 0
	for i := range ts {
		nt := &ts[i]
		if _, dup := next[nt.Key]; dup {
			s.log.Warn("duplicate target key in one source; keeping the first", "source", source, "key", nt.Key)
			continue
		}
		ot, ok := old[nt.Key]
		if !ok {
			next[nt.Key] = s.addLocked(nt, now)
			added++
			continue
		}
		delete(old, nt.Key)
		a, r := s.updateLocked(ot, nt, now)
		added, removed = added+a, removed+r
		if len(ot.workers) > 0 {
			next[nt.Key] = ot
		}
	}
	for _, ot := range old {
		removed += len(ot.workers)
		s.removeLocked(ot)
	}
	if len(next) == 0 {
		delete(s.sources, source)
	} else {
		s.sources[source] = next
	}
	if added+removed > 0 {
		s.log.Debug("targets synced", "source", source, "targets", len(next), "probes_added", added, "probes_removed", removed)
	}
	s.signal()
}

// updateLocked matches a known target's probes with its new specs: a probe
// with the same kind, definition and address is kept (labels and target
// details updated in place), the others replaced.
func (s *Scheduler) updateLocked(t *target, nt *Target, now time.Time) (added, removed int) {
	keep := make([]*worker, 0, len(nt.Specs))
	reused := make(map[*worker]bool, len(t.workers))
	for i := range nt.Specs {
		sp := &nt.Specs[i]
		var w *worker
		for _, ow := range t.workers {
			if !reused[ow] && ow.spec.Kind == sp.Kind && ow.spec.Identity == sp.Identity && ow.spec.Labels.Address() == sp.Labels.Address() {
				w = ow
				break
			}
		}
		if w == nil {
			keep = append(keep, s.newWorkerLocked(t, *sp, now))
			added++
			continue
		}
		reused[w] = true
		s.updateWorkerLocked(w, sp)
		keep = append(keep, w)
	}
	for _, ow := range t.workers {
		if !reused[ow] {
			s.removeWorkerLocked(ow)
			removed++
		}
	}
	t.workers, t.startup = keep, nil
	for _, w := range keep {
		if w.spec.Kind == config.Startup {
			t.startup = w
		}
	}
	return added, removed
}

// updateWorkerLocked gives a kept probe its new labels and target details.
// A target whose details changed (an exec probe's variables) takes effect
// with the next attempt; a running one's result is dropped, since it was
// made with the old details.
func (s *Scheduler) updateWorkerLocked(w *worker, sp *Spec) {
	w.mu.Lock()
	if !sameTarget(w.spec.Target, sp.Target) {
		w.spec.Target = sp.Target
	}
	relabel := !w.spec.Labels.Equal(sp.Labels)
	if relabel {
		w.spec.Labels = sp.Labels
	}
	w.mu.Unlock()
	if relabel {
		s.series.remove(s, w)
		s.series.add(s, w)
	}
}

func sameTarget(a, b *prober.Target) bool {
	return a.Host == b.Host && a.Port == b.Port && maps.Equal(a.NamedPorts, b.NamedPorts) && maps.Equal(a.Vars, b.Vars)
}

func (s *Scheduler) addLocked(nt *Target, now time.Time) *target {
	t := &target{key: nt.Key, appeared: now}
	if !nt.Since.IsZero() && nt.Since.Before(now) {
		t.appeared = nt.Since
	}
	for _, sp := range nt.Specs {
		w := s.newWorkerLocked(t, sp, now)
		if sp.Kind == config.Startup {
			t.startup = w
		}
		t.workers = append(t.workers, w)
	}
	return t
}

func (s *Scheduler) newWorkerLocked(t *target, sp Spec, now time.Time) *worker {
	w := &worker{t: t, spec: sp, index: -1, lane: s.laneLocked(sp.Entry)}
	w.lane.workers++
	w.rec.Machine = state.NewMachine(sp.Kind, sp.SuccessThreshold, sp.FailureThreshold, now)
	// The kubelet probes a new worker at once, except in its first
	// period after start, when it waits a random part of a period so
	// that everything known at start-up doesn't fire together.
	w.next = now
	if !s.noJitter && sp.Period > now.Sub(s.started) {
		w.next = now.Add(time.Duration(rand.Int64N(int64(sp.Period))))
	}
	s.series.add(s, w)
	return w
}

func (s *Scheduler) removeLocked(t *target) {
	for _, w := range t.workers {
		s.removeWorkerLocked(w)
	}
	t.workers = nil
}

func (s *Scheduler) removeWorkerLocked(w *worker) {
	w.removed = true
	w.lane.workers--
	s.dropLaneLocked(w.lane)
	s.series.remove(s, w)
	if w.index >= 0 {
		heap.Remove(&s.queue, w.index)
	}
	if w.cancel != nil {
		w.cancel()
	}
}

// seriesIndex finds probes that would render the same series. The first
// of each runs; the rest stand by (not scheduled, not rendered) and the
// next takes over when it goes.
type seriesIndex map[string][]*worker

// seriesKey is the series' label text: it holds the entry (the target
// label) and every other label, and indexing by it allocates nothing.
func seriesKey(w *worker) string { return w.spec.Labels.Text() }

func (x seriesIndex) add(s *Scheduler, w *worker) {
	k := seriesKey(w)
	x[k] = append(x[k], w)
	if len(x[k]) == 1 {
		w.standby = false
		if w.index < 0 && w.cancel == nil && !w.queued {
			heap.Push(&s.queue, w)
		}
		return
	}
	if !w.standby {
		s.log.Debug("probe duplicates another source's series; standing by", "target", w.spec.Entry, "kind", w.spec.Kind.String(), "address", w.spec.Labels.Address())
	}
	w.standby = true
	if w.index >= 0 {
		heap.Remove(&s.queue, w.index)
	}
}

func (x seriesIndex) remove(s *Scheduler, w *worker) {
	k := seriesKey(w)
	ws := x[k]
	i := slices.Index(ws, w)
	if i < 0 {
		return
	}
	ws = slices.Delete(ws, i, i+1)
	if len(ws) == 0 {
		delete(x, k)
		return
	}
	x[k] = ws
	if i == 0 {
		next := ws[0]
		next.standby = false
		if next.index < 0 && next.cancel == nil && !next.queued {
			next.next = s.now()
			heap.Push(&s.queue, next)
		}
	}
}

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run schedules probes until ctx ends, then waits for running probes to
// return (they are cancelled with ctx).
func (s *Scheduler) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer s.running.Wait()
	for {
		s.mu.Lock()
		now := s.now()
		for s.queue.Len() > 0 && !s.queue[0].next.After(now) {
			w := heap.Pop(&s.queue).(*worker)
			if s.skipLocked(w, now) {
				continue
			}
			s.enqueueLocked(w)
		}
		s.dispatchLocked(ctx)
		wait := time.Hour
		if s.queue.Len() > 0 {
			wait = s.queue[0].next.Sub(now)
		}
		s.mu.Unlock()

		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// lane is one entry's share of the in-flight bound: its probes that are
// due and wait for a slot, and how many of its probes run.
type lane struct {
	entry    string
	workers  int // the entry's probes, to know when to forget the lane
	inFlight int
	waiting  []*worker
}

func (s *Scheduler) laneLocked(entry string) *lane {
	l := s.lanes[entry]
	if l == nil {
		l = &lane{entry: entry}
		s.lanes[entry] = l
	}
	return l
}

// dropLaneLocked forgets a lane its entry no longer uses.
func (s *Scheduler) dropLaneLocked(l *lane) {
	if l.workers == 0 && l.inFlight == 0 && len(l.waiting) == 0 && s.lanes[l.entry] == l {
		delete(s.lanes, l.entry)
	}
}

// enqueueLocked queues a due probe in its entry's lane.
func (s *Scheduler) enqueueLocked(w *worker) {
	w.lane.waiting = append(w.lane.waiting, w)
	s.ready[w.lane] = struct{}{}
	w.queued = true
	s.waiting.Add(1)
}

// dispatchLocked starts waiting probes while slots are free, fairly
// between entries: each entry's fair share is the bound over the entries
// that have probes. A free slot goes to the waiting entry with the
// fewest running (the earliest due among equals), and an entry at or over
// its share takes one only while a slot stays free for every other entry
// under its share. So one entry's black-holed targets, each holding a
// slot for its whole timeout, can use what the others leave idle but
// never make them wait for a slot.
func (s *Scheduler) dispatchLocked(ctx context.Context) {
	for s.free > 0 && ctx.Err() == nil {
		var pick *lane
		for l := range s.ready {
			if pick == nil || l.inFlight < pick.inFlight ||
				(l.inFlight == pick.inFlight && l.waiting[0].next.Before(pick.waiting[0].next)) {
				pick = l
			}
		}
		if pick == nil {
			return
		}
		// Only an entry at or over its share needs the others counted:
		// under no pressure a dispatch looks at the waiting lanes alone.
		if fair := max(1, s.maxInFlight/max(1, len(s.lanes))); pick.inFlight >= fair && s.free <= s.underShareLocked(fair) {
			return // the rest is kept for entries under their share
		}
		w := pick.waiting[0]
		pick.waiting[0] = nil
		pick.waiting = pick.waiting[1:]
		if len(pick.waiting) == 0 {
			pick.waiting = nil // let the backing array go
			delete(s.ready, pick)
		}
		w.queued = false
		s.waiting.Add(-1)
		if w.removed || w.standby {
			s.dropLaneLocked(pick)
			continue
		}
		s.free--
		pick.inFlight++
		s.startLocked(ctx, w)
	}
}

// underShareLocked counts the entries running fewer than fair probes.
func (s *Scheduler) underShareLocked(fair int) int {
	n := 0
	for _, l := range s.lanes {
		if l.inFlight < fair {
			n++
		}
	}
	return n
}

// skipLocked applies the kubelet's doProbe checks that come before probing
// (initial delay, startup gating, on hold). A skipped tick is rescheduled
// for the next period; an on-hold probe is not rescheduled at all.
func (s *Scheduler) skipLocked(w *worker, now time.Time) bool {
	w.mu.Lock()
	hold := w.rec.OnHold()
	w.mu.Unlock()
	if hold {
		return true
	}
	skip := int64(now.Sub(w.t.appeared)/time.Second) < int64(w.spec.InitialDelay/time.Second)
	if g := w.t.startup; !skip && g != nil && g != w {
		g.mu.Lock()
		skip = g.rec.Value() != state.Success
		g.mu.Unlock()
	}
	if skip {
		w.next = nextTick(w.next, w.spec.Period, now)
		heap.Push(&s.queue, w)
	}
	return skip
}

// nextTick is the next tick of a ticker of period p started at planned:
// ticks that passed while a probe ran are dropped, as time.Ticker drops
// them, and the phase is kept.
func nextTick(planned time.Time, p time.Duration, now time.Time) time.Time {
	next := planned.Add(p)
	if next.After(now) {
		return next
	}
	return next.Add(now.Sub(next) / p * p)
}

func (s *Scheduler) startLocked(ctx context.Context, w *worker) {
	l := w.lane
	pctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	planned := w.next

	s.inFlight.Add(1)
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer cancel()
		s.runOnce(pctx, w, planned)
		s.inFlight.Add(-1)

		s.mu.Lock()
		defer s.mu.Unlock()
		w.cancel = nil
		l.inFlight--
		s.free++
		if !w.removed && !w.standby && ctx.Err() == nil {
			w.next = nextTick(planned, w.spec.Period, s.now())
			heap.Push(&s.queue, w)
			if w.index == 0 {
				s.signal()
			}
		}
		s.dropLaneLocked(l)
		s.dispatchLocked(ctx)
	}()
}

func (s *Scheduler) runOnce(ctx context.Context, w *worker, planned time.Time) {
	start := s.now()
	s.lateness.Observe(start.Sub(planned).Seconds())
	counters := s.counters(w.spec.Prober.Type())
	w.mu.Lock()
	pt := w.spec.Target
	w.mu.Unlock()
	var took time.Duration
	o := prober.Run(ctx, w.spec.Prober, pt, w.spec.Timeout, s.now, func(o prober.Outcome, d time.Duration) {
		took = d
		switch {
		case o.Err != nil:
			counters[2].Inc()
		case state.ResultValue(o.Result) == state.Failure:
			counters[1].Inc()
		default:
			counters[0].Inc()
		}
	})
	if ctx.Err() != nil {
		return // removed or shutting down: the result means nothing
	}
	w.mu.Lock()
	if w.spec.Target != pt {
		w.mu.Unlock()
		return // made with details that changed meanwhile: describes nothing current
	}
	from := w.rec.Value()
	changed := w.rec.Apply(o, took, s.now())
	v, reason := w.rec.Value(), w.rec.LastReason
	// A readiness probe starts at failure: one that fails from its first
	// attempts never changes state, and would never be said at info.
	// Said once, when it settles there.
	failingFromStart := !changed && !w.said && v == state.Failure && w.rec.Settled()
	w.said = w.said || changed || failingFromStart
	addr := w.spec.Labels.Address() // labels change under w.mu
	w.mu.Unlock()
	switch {
	case changed:
		s.transitions.log(s.log, s.now(), "probe state changed", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", addr, "from", from.String(), "to", v.String(), "reason", reason)
	case failingFromStart:
		s.transitions.log(s.log, s.now(), "probe failing since it started", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", addr, "state", v.String(), "reason", reason)
	}
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	switch {
	case o.Err != nil:
		s.log.Debug("probe errored; result discarded", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", w.spec.Prober.Address(pt), "err", o.Err)
	case changed, failingFromStart:
		// said at info above
	case state.ResultValue(o.Result) == state.Failure:
		s.log.Debug("probe failed", "target", w.spec.Entry, "kind", w.spec.Kind.String(),
			"address", w.spec.Prober.Address(pt), "output", truncate(o.Output, 256))
	}
}

func (s *Scheduler) counters(typ prober.Type) *[3]prometheus.Counter {
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	c := s.attemptCounters[typ]
	if c == nil {
		c = &[3]prometheus.Counter{
			s.attempts.WithLabelValues(typ.String(), "success"),
			s.attempts.WithLabelValues(typ.String(), "failure"),
			s.attempts.WithLabelValues(typ.String(), "error"),
		}
		s.attemptCounters[typ] = c
	}
	return c
}

// logLimiter lets a flapping fleet log state changes at most burst at
// once and rate a second after that; what it holds back is counted and
// said in the next line it lets through.
type logLimiter struct {
	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

const (
	transitionLogRate  = 10 // lines a second, sustained
	transitionLogBurst = 50
)

func (l *logLimiter) log(log *slog.Logger, now time.Time, msg string, args ...any) {
	l.mu.Lock()
	if l.last.IsZero() {
		l.tokens = transitionLogBurst
	} else {
		l.tokens = min(transitionLogBurst, l.tokens+now.Sub(l.last).Seconds()*transitionLogRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.tokens--
	held := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "state_changes_not_logged", held)
	}
	log.Info(msg, args...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Status is a copy of one probe's definition and state for the collector.
type Status struct {
	Spec   Spec
	Key    string
	Record state.Record
	// Next is when the probe runs next; zero while it runs or waits for
	// a slot, and once it needs no more runs (a startup probe that
	// succeeded).
	Next time.Time
}

// Each calls fn for every probe of every target, with a consistent copy of
// its state. fn must not call back into the Scheduler.
func (s *Scheduler) Each(fn func(*Status)) {
	s.mu.Lock()
	ws := make([]*worker, 0, s.queue.Len()+int(s.inFlight.Load())+16)
	for _, src := range s.sources {
		for _, t := range src {
			for _, w := range t.workers {
				if !w.standby {
					ws = append(ws, w)
				}
			}
		}
	}
	s.mu.Unlock()
	var st Status
	for _, w := range ws {
		st.Key = w.t.key
		st.Next = time.Time{} // running, waiting for a slot, or done
		if due := w.due.Load(); due != 0 {
			st.Next = time.Unix(0, due)
		}
		w.mu.Lock()
		st.Spec = w.spec
		st.Record = w.rec
		w.mu.Unlock()
		fn(&st)
	}
}

// Targets counts the targets probed now, by entry: each target once,
// however many probes it has.
func (s *Scheduler) Targets() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, src := range s.sources {
		for _, t := range src {
			for _, w := range t.workers {
				if !w.standby {
					out[w.spec.Entry]++
					break
				}
			}
		}
	}
	return out
}

// workerHeap orders workers by their next planned start.
type workerHeap []*worker

func (h workerHeap) Len() int           { return len(h) }
func (h workerHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h workerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *workerHeap) Push(x any) {
	w := x.(*worker)
	w.index = len(*h)
	w.due.Store(w.next.UnixNano())
	*h = append(*h, w)
}
func (h *workerHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	w.index = -1
	w.due.Store(0)
	*h = old[:n-1]
	return w
}

// waitingCollector renders probe_exporter_probes_waiting per entry from
// the lanes at scrape time, with a series for every entry that has
// targets (0 when none of its probes waits).
type waitingCollector struct{ s *Scheduler }

var waitingDesc = prometheus.NewDesc("probe_exporter_probes_waiting",
	"Probes that are due but wait for a free slot under --probe.max-in-flight, by target entry (slots go to the entry with the fewest running).",
	[]string{"target"}, nil)

func (c waitingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- waitingDesc }

func (c waitingCollector) Collect(ch chan<- prometheus.Metric) {
	waiting := c.s.Targets()
	for e := range waiting {
		waiting[e] = 0
	}
	c.s.mu.Lock()
	for e, l := range c.s.lanes {
		if len(l.waiting) > 0 {
			waiting[e] = len(l.waiting)
		}
	}
	c.s.mu.Unlock()
	for e, n := range waiting {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(n), e)
	}
}
