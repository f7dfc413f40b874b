package scheduler

import "time"

// standingQueue tells a burst from overload, as CoDel does for packets.
//
// A tick is skipped once it could not start within its period. Under
// lasting overload that alone leaves every probe that does run nearly a
// whole period late: a first-in-first-out queue that only drops what is
// a period old settles at a period's depth. So when every probe started
// over a whole window was already more than a tenth of its period late —
// a queue that never drained, not a burst that will — ticks are skipped
// from a tenth of their period on, which empties it: what runs starts
// fresh, and the ticks that could not run anyway are skipped sooner. A
// burst (targets arriving together, a reload) that drains within a
// window never triggers it and runs late rather than not at all.
type standingQueue struct {
	windowEnd time.Time
	// minLate is the least lateness, as a fraction of the period, of the
	// probes started in this window (negative: none yet).
	minLate float64
	// standing: the last whole window had no probe start fresh.
	standing bool
}

const (
	// standingWindow is how long a queue must stay behind to be standing.
	standingWindow = time.Second
	// freshFraction of its period is how late a probe may start and
	// count as fresh; under a standing queue, how late it may start.
	freshFraction = 0.1
)

// started notes a probe starting late by late of period p, right after
// expired (which rolled the window) said it may.
func (q *standingQueue) started(late, p time.Duration) {
	if f := float64(late) / float64(p); q.minLate < 0 || f < q.minLate {
		q.minLate = f
	}
}

// roll closes the window if now is past it.
func (q *standingQueue) roll(now time.Time) {
	if now.Before(q.windowEnd) {
		return
	}
	if !q.windowEnd.IsZero() {
		// A window with no probe started at all (every slot held by slow
		// targets) says nothing about the queue: keep the verdict.
		if q.minLate >= 0 {
			q.standing = q.minLate > freshFraction
		}
	}
	q.windowEnd, q.minLate = now.Add(standingWindow), -1
}

// expired says whether a tick late by late of period p is skipped.
func (q *standingQueue) expired(now time.Time, late, p time.Duration) bool {
	q.roll(now)
	return late >= p || (q.standing && float64(late) > freshFraction*float64(p))
}
