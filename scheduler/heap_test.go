package scheduler

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestWorkerHeapOrder: whatever is pushed and removed, the heap gives its
// workers back by planned start, the longest since its last start first
// among equals, and every worker knows its place.
func TestWorkerHeapOrder(t *testing.T) {
	base := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		h := workerHeap{base: base}
		live := map[*worker]bool{}
		for i := 0; i < 500; i++ {
			switch {
			case len(live) > 0 && rng.IntN(4) == 0:
				// Remove one from anywhere, as a removed target is.
				for w := range live {
					h.remove(int(w.index))
					delete(live, w)
					if w.index != -1 || w.due.Load() != 0 {
						t.Fatalf("a removed worker keeps index %d, due %d", w.index, w.due.Load())
					}
					break
				}
			default:
				// Few distinct instants: ties are common.
				w := &worker{next: time.Duration(rng.IntN(20)) * time.Second, lastStart: rng.Int64N(5)}
				h.push(w)
				live[w] = true
			}
			for i, e := range h.e {
				if int(e.w.index) != i {
					t.Fatalf("entry %d's worker says index %d", i, e.w.index)
				}
			}
		}
		var want []*worker
		for w := range live {
			want = append(want, w)
		}
		slices.SortStableFunc(want, func(a, b *worker) int {
			if a.next != b.next {
				return int(a.next - b.next)
			}
			return int(a.lastStart - b.lastStart)
		})
		for i := range want {
			w := h.pop()
			if w.next != want[i].next || w.lastStart != want[i].lastStart {
				t.Fatalf("pop %d: (%v, %d), want (%v, %d)", i, w.next, w.lastStart, want[i].next, want[i].lastStart)
			}
		}
		if h.Len() != 0 {
			t.Fatalf("%d left", h.Len())
		}
	}
}

// BenchmarkWorkerHeapCycle is the timing loop's steady state at 100k idle
// probes: pop the due root and push it back a period later, with a
// scheduler's worth of other memory touched between (the workers and the
// heap are cold, as at 333 probes a second they are).
func BenchmarkWorkerHeapCycle(b *testing.B) {
	const n = 100_000
	h := workerHeap{base: time.Now()}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		h.push(&worker{next: time.Duration(rng.Int64N(int64(300 * time.Second)))})
	}
	evict := make([]byte, 8<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%4 == 0 {
			b.StopTimer()
			for j := 0; j < len(evict); j += 64 {
				evict[j]++
			}
			b.StartTimer()
		}
		w := h.pop()
		w.next += 300 * time.Second
		h.push(w)
	}
}
