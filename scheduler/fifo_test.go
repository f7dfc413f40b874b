package scheduler

import (
	"math/rand/v2"
	"testing"
)

// TestFifo: against a plain slice queue, in any mix of pushes and pops,
// the same order; a queue that never drains stays bounded by what waits;
// one that drains and fills again allocates nothing.
func TestFifo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var q fifo
	var ref []*worker
	for i := 0; i < 100_000; i++ {
		if len(ref) > 0 && rng.IntN(2) == 0 {
			if got := q.pop(); got != ref[0] {
				t.Fatalf("op %d: popped %p, want %p", i, got, ref[0])
			}
			ref = ref[1:]
		} else {
			w := &worker{}
			q.push(w)
			ref = append(ref, w)
		}
		if q.len() != len(ref) || (len(ref) > 0 && q.front() != ref[0]) {
			t.Fatalf("op %d: %d waiting, want %d", i, q.len(), len(ref))
		}
	}

	var steady fifo
	for i := 0; i < 10; i++ {
		steady.push(&worker{})
	}
	for i := 0; i < 100_000; i++ {
		steady.push(steady.pop())
	}
	if c := cap(steady.e); c > 40 {
		t.Errorf("10 waiting all along: an array of %d", c)
	}

	ws := make([]*worker, 100)
	for i := range ws {
		ws[i] = &worker{}
	}
	var reused fifo
	if n := testing.AllocsPerRun(100, func() {
		for _, w := range ws {
			reused.push(w)
		}
		for reused.len() > 0 {
			reused.pop()
		}
	}); n > 0 {
		t.Errorf("draining and filling again allocates %v times", n)
	}

	var burst fifo
	for i := 0; i < 2*keepCap; i++ {
		burst.push(&worker{})
	}
	for burst.len() > 0 {
		burst.pop()
	}
	if burst.e != nil {
		t.Errorf("a drained queue keeps an array of %d", cap(burst.e))
	}
}
