package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/series"
)

// TestActiveMatchesAWalk: after any sequence of syncs — targets coming and
// going, the same series from several sources (stand-bys taking over),
// labels changing — the flat active set readers walk holds exactly the
// probes a walk of every source finds running, and its target counts are
// the walk's.
func TestActiveMatchesAWalk(t *testing.T) {
	t.Parallel()
	s := New(Options{}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	p := &fakeProber{}
	for step := 0; step < 3000; step++ {
		n := rng.IntN(4)
		src := fmt.Sprintf("src-%d", n)
		entry := fmt.Sprintf("e%d", n%2) // a source is one entry's
		var ts []Target
		for i, n := 0, rng.IntN(6); i < n; i++ {
			key := fmt.Sprintf("t%d", rng.IntN(8))
			var specs []Spec
			for _, k := range []probe.Kind{probe.Readiness, probe.Liveness} {
				if rng.IntN(2) == 0 {
					continue
				}
				sp := spec(k, p, time.Hour)
				sp.Entry = entry
				// A few label variants: the same series from two sources,
				// and label changes under a kept probe.
				sp.Labels = series.New(series.NewNames([]string{"target", "kind", "address", "zone"}),
					[]string{entry, k.String(), key, fmt.Sprint(rng.IntN(2))})
				specs = append(specs, sp)
			}
			ts = append(ts, Target{Key: key, Specs: specs})
		}
		s.Sync(src, ts)

		s.mu.Lock()
		var walked []*worker
		counts := map[string]int{}
		for _, targets := range s.sources {
			for _, tg := range targets {
				any := false
				for _, w := range tg.workers {
					if !w.standby {
						walked = append(walked, w)
						if !any {
							counts[w.spec.Entry]++
							any = true
						}
					}
				}
			}
		}
		active := slices.Clone(s.active.ws)
		got := s.active.targets
		s.mu.Unlock()
		byPtr := func(a, b *worker) int { return cmpPtr(a, b) }
		slices.SortFunc(walked, byPtr)
		slices.SortFunc(active, byPtr)
		if !slices.Equal(walked, active) {
			t.Fatalf("step %d: active set has %d probes, a walk finds %d", step, len(active), len(walked))
		}
		if fmt.Sprint(got) != fmt.Sprint(counts) {
			t.Fatalf("step %d: targets %v, a walk counts %v", step, got, counts)
		}
	}
}

func cmpPtr(a, b *worker) int {
	switch pa, pb := fmt.Sprintf("%p", a), fmt.Sprintf("%p", b); {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return 0
}
