package prober

import (
	"context"
	"sync"
)

// Fact is one gauge an attempt measured beyond its result, named as
// blackbox_exporter names it (probe_http_status_code, probe_tls_version_info,
// ...): /probe answers each. The prober of each handler reports its own
// (http_facts.go), so a handler's metrics live beside its attempt.
type Fact struct {
	Name, Help string
	// Labels and Values are the gauge's labels, if any (a phase, a
	// version, a certificate's identity), lined up.
	Labels, Values []string
	Value          float64
}

// Facts collects the facts of the attempts run under a context made by
// WithFacts. Attempts without it (the scheduler's) measure none.
type Facts struct {
	mu   sync.Mutex
	list []Fact
}

type factsKey struct{}

// WithFacts asks the attempts run under ctx to report their facts into
// the returned collector.
func WithFacts(ctx context.Context) (context.Context, *Facts) {
	f := &Facts{}
	return context.WithValue(ctx, factsKey{}, f), f
}

// factsFrom is ctx's collector, nil when no one asked.
func factsFrom(ctx context.Context) *Facts {
	f, _ := ctx.Value(factsKey{}).(*Facts)
	return f
}

func (f *Facts) add(fs ...Fact) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, fs...)
}

// Each calls fn with every fact, in the order they were reported.
func (f *Facts) Each(fn func(Fact)) {
	f.mu.Lock()
	list := append([]Fact(nil), f.list...)
	f.mu.Unlock()
	for _, x := range list {
		fn(x)
	}
}
