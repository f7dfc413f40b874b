package kubernetes

// What discovery says about itself: API errors by reason, one log line
// per state change, probe_exporter_discovery_synced and _skipped.

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func reason(err error) string {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return "forbidden"
	case apierrors.IsNotFound(err):
		// The resource itself is not served: a custom resource whose CRD
		// is not installed (Gateway API).
		return "not_installed"
	case errors.As(err, &opErr), errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return "unreachable"
	}
	// Some transport errors arrive only as text.
	for _, s := range []string{"connection refused", "connection reset", "no such host", "i/o timeout", "EOF",
		"client connection lost", "TLS handshake timeout", "no route to host", "GOAWAY"} {
		if strings.Contains(err.Error(), s) {
			return "unreachable"
		}
	}
	return "other"
}

// observe records the outcome of an API call: it counts failures and logs
// when the informer's state changes, not on every retry, so there is no
// log storm while an API server is down. A forbidden error says which verb
// and resource RBAC lacks.
func (d *Discoverer) observe(c *cluster, inf *informer, err error, count bool) {
	if err == nil {
		d.healthy(c, inf)
		return
	}
	if errors.Is(err, context.Canceled) && d.ctx.Err() != nil {
		return // shutting down
	}
	r := reason(err)
	if count {
		d.errs.WithLabelValues(inf.key.resource, r).Inc()
	}
	inf.healthy.Store(false)
	if _, changed := inf.transition(r); !changed {
		return
	}
	d.changed()
	if r == "unreachable" && c.unreachable.Swap(true) {
		return // said already for this API server
	}
	ns := inf.key.namespace
	if ns == "" {
		ns = "all namespaces"
	}
	switch r {
	case "forbidden":
		d.log.Error("kubernetes: permission denied; grant get, list and watch on this resource (see examples/kubernetes/rbac.yaml)",
			"resource", inf.key.resource, "namespace", ns, "api_server", c.name, "err", err)
	case "not_installed":
		d.log.Error("kubernetes: the API server does not serve this resource: is its CRD installed (Gateway API: gateway.networking.k8s.io/v1)? Retrying with backoff",
			"resource", inf.key.resource, "namespace", ns, "api_server", c.name, "err", err)
	case "unreachable":
		d.log.Warn("kubernetes: API server unreachable; keeping the last known targets and retrying with backoff",
			"api_server", c.name, "err", err)
	default:
		d.log.Warn("kubernetes: cannot list or watch; keeping the last known targets and retrying with backoff",
			"resource", inf.key.resource, "namespace", ns, "api_server", c.name, "err", err)
	}
}

func (d *Discoverer) healthy(c *cluster, inf *informer) {
	inf.healthy.Store(true)
	prev, changed := inf.transition("ok")
	if changed {
		d.changed()
	}
	switch {
	case prev == "" || prev == "ok":
	case c.unreachable.Swap(false):
		// Whatever this informer saw last, the cluster was unreachable.
		d.log.Info("kubernetes: API server reachable again", "api_server", c.name)
	case prev != "unreachable":
		d.log.Info("kubernetes: listing works again", "resource", inf.key.resource, "namespace", inf.key.namespace, "api_server", c.name)
	}
}

// health keeps the run's synced state (Running.Synced) current, recomputed when
// an informer's state changes or the work queue drains: 1 only when every
// informer has listed (and is not relisting), its API server answers,
// every handler has been given the listed objects, and every group built
// from them has reached the scheduler.
func (r *run) health(ctx context.Context) {
	var wait <-chan time.Time
	began, said := time.Now(), false
	for {
		ok, pending := r.synced()
		r.isSynced.Store(ok)
		if ok && !said {
			// Once: how long a start takes to know everything is what
			// sizing a large cluster needs.
			r.d.log.Info("kubernetes discovery synced", "target", r.entry, "role", r.cfg.Role, "took", time.Since(began).Round(time.Millisecond))
			said = true
		}
		// An informer handing out its listed objects, and handlers being
		// told them, end with no event: while that is all that is missing,
		// look again shortly.
		wait = nil
		if pending {
			wait = time.After(20 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.recheck:
		case <-wait:
		}
	}
}

// synced says whether the run is synced, and if not, whether what is
// missing comes without an event (pending): the informer's own sync
// included. Its watch starts as soon as the list is in its queue, and
// that kick may come before the last listed object is handed out: on a
// busy machine it did, and when those objects enqueue nothing (pods no
// slice points at) no later event came to say synced, for minutes.
func (r *run) synced() (ok, pending bool) {
	for _, reg := range r.regs {
		if reg.inf.listing.Load() || !reg.inf.healthy.Load() {
			return false, false // the watch starting, or an answer, kicks
		}
	}
	for _, reg := range r.regs {
		if !reg.inf.HasSynced() || !reg.h.HasSynced() {
			return false, true
		}
	}
	return r.queue.Len() == 0 && r.busy.Load() == 0, false
}

// skips are one entry's skipped objects: by source, and their running
// totals, so recording one group costs the same whatever the entry's size.
type skips struct {
	bySource map[string]map[string]int
	totals   map[string]int
}

func (d *Discoverer) recordSkipped(entry, source string, skipped map[string]int) {
	d.skipMu.Lock()
	defer d.skipMu.Unlock()
	e := d.skipped[entry]
	if e == nil {
		e = &skips{bySource: map[string]map[string]int{}, totals: map[string]int{}}
		d.skipped[entry] = e
	}
	old := e.bySource[source]
	if len(old) == 0 && len(skipped) == 0 {
		return // nothing was skipped, nothing is: the totals stand
	}
	for r, n := range old {
		if e.totals[r] -= n; e.totals[r] == 0 {
			delete(e.totals, r)
		}
	}
	for r, n := range skipped {
		e.totals[r] += n
	}
	if len(skipped) == 0 {
		delete(e.bySource, source)
	} else {
		e.bySource[source] = skipped
	}
	d.metrics.SetSkipped(entry, mechanism, skipReasons, e.totals)
}
