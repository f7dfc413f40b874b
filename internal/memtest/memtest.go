// Package memtest measures memory for benchmarks.
package memtest

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// PeakHeap runs f and returns the highest live heap seen while it ran,
// above the heap before it started. It samples every 200 µs through
// runtime/metrics, which reads without stopping the world.
func PeakHeap(f func()) uint64 {
	const name = "/memory/classes/heap/objects:bytes"
	runtime.GC()
	before := []metrics.Sample{{Name: name}}
	metrics.Read(before)
	var (
		peak uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: name}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64())
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if b := before[0].Value.Uint64(); peak > b {
		return peak - b
	}
	return 0
}
