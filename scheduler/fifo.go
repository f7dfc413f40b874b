package scheduler

// fifo is a lane's due probes in the order they came due. Taken from the
// front of a plain slice, the array lost its front with every take and was
// made anew each time the lane drained and filled again (6 % of the bytes
// a saturated exporter allocated); this one reuses its array, and gives a
// large one back when it drains.
type fifo struct {
	e    []*worker
	head int
}

// keepCap is the largest array a drained fifo keeps (8 KB).
const keepCap = 1024

func (q *fifo) len() int { return len(q.e) - q.head }

func (q *fifo) front() *worker { return q.e[q.head] }

func (q *fifo) push(w *worker) {
	if q.head > 0 && len(q.e) == cap(q.e) && q.head >= len(q.e)/2 {
		// Full, and at least half of it taken: move what waits to the
		// front rather than grow (a queue that never drains stays
		// bounded by what waits).
		n := copy(q.e, q.e[q.head:])
		clear(q.e[n:])
		q.e, q.head = q.e[:n], 0
	}
	q.e = append(q.e, w)
}

func (q *fifo) pop() *worker {
	w := q.e[q.head]
	q.e[q.head] = nil
	q.head++
	if q.head == len(q.e) {
		q.head = 0
		if cap(q.e) > keepCap {
			q.e = nil // after a burst: let the large array go
		} else {
			q.e = q.e[:0]
		}
	}
	return w
}
