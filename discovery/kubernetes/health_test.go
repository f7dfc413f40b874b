package kubernetes

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/probe-exporter/probe-exporter/discovery"
)

// slowSync is an informer whose initial list is still being handed out
// (HasSynced false) after its watch started: what a busy machine makes of
// a large list. Nothing tells anyone when it is done.
type slowSync struct {
	cache.SharedIndexInformer
	synced atomic.Bool
}

func (s *slowSync) HasSynced() bool { return s.synced.Load() }

type syncedReg struct {
	cache.ResourceEventHandlerRegistration
}

func (syncedReg) HasSynced() bool { return true }

// TestSyncedWithoutAnEvent: an informer that finishes syncing after the
// last event any run saw (a related informer whose objects enqueue
// nothing: pods no slice points at) still turns synced to 1. Under CPU
// pressure this was the order of things, and synced stayed 0 until the
// next object change, for minutes.
func TestSyncedWithoutAnEvent(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := discovery.NewMetrics(reg)
	inf := &slowSync{}
	i := &informer{SharedIndexInformer: inf}
	i.healthy.Store(true)
	r := &run{entry: "e", cfg: &Config{Role: RoleEndpointSlice}, d: &Discoverer{metrics: metrics, log: slog.New(slog.DiscardHandler)}, recheck: make(chan struct{}, 1),
		queue: workqueue.NewTyped[string](), regs: []registration{{inf: i, h: syncedReg{}}}}
	defer r.queue.ShutDown()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.health(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	gauge := func() float64 { // the run's synced state, as Running.Synced reports it
		if (&running{r: r}).Synced() {
			return 1
		}
		return 0
	}

	r.kick() // the watch started: the last event there will be
	deadline := time.Now().Add(5 * time.Second)
	for gauge() != 0 && time.Now().Before(deadline) { // health has looked, and seen it unsynced
		time.Sleep(time.Millisecond)
	}
	inf.synced.Store(true) // the list is handed out: no event says so
	for gauge() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("synced stayed 0 after the informer synced")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
