package scheduler

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lane is one entry's share of the in-flight bound: its probes that are
// due and wait for a slot, and how many of its probes run.
type lane struct {
	entry    string
	workers  int // the entry's probes, to know when to forget the lane
	inFlight int
	waiting  fifo
	// ready: in Scheduler.ready (its waiting is not empty).
	ready bool
	// skipped counts the entry's ticks that could not start within their
	// period (probe_exporter_ticks_skipped_total).
	skipped uint64
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
	if l.workers == 0 && l.inFlight == 0 && l.waiting.len() == 0 && s.lanes[l.entry] == l {
		delete(s.lanes, l.entry)
	}
}

// enqueueLocked queues a due probe in its entry's lane.
func (s *Scheduler) enqueueLocked(w *worker) {
	l := w.lane
	l.waiting.push(w)
	if !l.ready {
		l.ready = true
		s.ready = append(s.ready, l)
	}
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
//
// A probe starts at most one period late: one whose tick is a whole
// period old when its turn comes is not started but skipped to its next
// tick (expireLocked), so an overloaded exporter keeps every result it
// does produce fresh, instead of running everything ever later; under a
// standing queue, from a tenth of its period on (see standingQueue).
func (s *Scheduler) dispatchLocked(ctx context.Context) {
	now := s.now()
	for ctx.Err() == nil {
		if s.busy >= s.limit.value {
			s.limit.demand = s.limit.demand || len(s.ready) > 0
			return
		}
		if len(s.ready) == 0 {
			return
		}
		at, pick := 0, s.ready[0]
		for i, l := range s.ready[1:] {
			if l.inFlight < pick.inFlight ||
				(l.inFlight == pick.inFlight && l.waiting.front().next < pick.waiting.front().next) {
				at, pick = i+1, l
			}
		}
		// Only an entry at or over its share needs the others counted:
		// under no pressure a dispatch looks at the waiting lanes alone.
		if fair := max(1, s.limit.value/max(1, len(s.lanes))); pick.inFlight >= fair && s.limit.value-s.busy <= s.underShareLocked(fair) {
			return // the rest is kept for entries under their share
		}
		w := pick.waiting.pop()
		if pick.waiting.len() == 0 {
			s.unreadyLocked(at)
		}
		w.queued = false
		s.waiting.Add(-1)
		if w.removed || w.standby {
			s.dropLaneLocked(pick)
			continue
		}
		if p := w.spec.Period; p > 0 {
			late := s.offset(now) - w.next
			if s.standing.expired(now, late, p) {
				s.expireLocked(w, now)
				continue
			}
			s.standing.started(late, p)
		}
		s.busy++
		s.limit.running(s.busy)
		pick.inFlight++
		s.startLocked(ctx, w)
	}
}

// unreadyLocked takes the lane at i out of s.ready.
func (s *Scheduler) unreadyLocked(i int) {
	last := len(s.ready) - 1
	s.ready[i].ready = false
	s.ready[i] = s.ready[last]
	s.ready[last] = nil
	s.ready = s.ready[:last]
}

// expireLocked skips a waiting probe's ticks that can no longer start
// within their period — its planned one and every one since, up to now —
// and plans it for its next tick, counting them.
func (s *Scheduler) expireLocked(w *worker, now time.Time) {
	p := w.spec.Period
	k := (s.offset(now) - w.next) / p // whole periods late: k >= 1
	w.lane.skipped += uint64(k) + 1
	s.limit.demand = true
	w.next += (k + 1) * p
	s.queue.push(w)
	if w.index == 0 {
		s.signal()
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

// lanesCollector renders what the lanes know per entry, at scrape time:
// probe_exporter_probes_waiting and probe_exporter_ticks_skipped_total,
// with a series of each for every entry that has targets (0 when none).
type lanesCollector struct{ s *Scheduler }

func (c lanesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- waitingDesc; ch <- skippedDesc }

func (c lanesCollector) Collect(ch chan<- prometheus.Metric) {
	type counts struct {
		waiting int
		skipped uint64
	}
	byEntry := map[string]counts{}
	for e := range c.s.Targets() {
		byEntry[e] = counts{}
	}
	c.s.mu.Lock()
	for e, l := range c.s.lanes {
		if _, ok := byEntry[e]; ok {
			byEntry[e] = counts{l.waiting.len(), l.skipped}
		}
	}
	c.s.mu.Unlock()
	for e, n := range byEntry {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(n.waiting), e)
		ch <- prometheus.MustNewConstMetric(skippedDesc, prometheus.CounterValue, float64(n.skipped), e)
	}
}

var waitingDesc = prometheus.NewDesc("probe_exporter_probes_waiting",
	"Probes whose tick has come and that wait for a free slot under the in-flight bound (probe_exporter_probes_in_flight_limit), by target entry (slots go to the entry with the fewest running); a tick not started within its period is skipped (probe_exporter_ticks_skipped_total).",
	[]string{"target"}, nil)

var skippedDesc = prometheus.NewDesc("probe_exporter_ticks_skipped_total",
	"Probe ticks not started because no slot came free within their period (the exporter is overloaded: give it CPU, raise --probe.max-in-flight, or shard), by target entry.",
	[]string{"target"}, nil)
