package web

import (
	"crypto/tls"
	"net/http/httptrace"
	"sync"
	"time"
)

// phases times an HTTP attempt's phases from httptrace's hooks, summed
// over redirect hops, as blackbox_exporter reports them.
type phases struct {
	mu                         sync.Mutex
	connectStart, tlsStart     time.Time
	wrote, firstByte, finished time.Time
	connect, tls, processing   time.Duration
}

func (p *phases) trace() *httptrace.ClientTrace {
	at := func(f func(now time.Time)) {
		p.mu.Lock()
		defer p.mu.Unlock()
		f(time.Now())
	}
	return &httptrace.ClientTrace{
		ConnectStart: func(string, string) { at(func(now time.Time) { p.connectStart = now }) },
		ConnectDone: func(string, string, error) {
			at(func(now time.Time) { p.connect += now.Sub(p.connectStart) })
		},
		TLSHandshakeStart: func() { at(func(now time.Time) { p.tlsStart = now }) },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			at(func(now time.Time) { p.tls += now.Sub(p.tlsStart) })
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { at(func(now time.Time) { p.wrote = now }) },
		GotFirstResponseByte: func() {
			at(func(now time.Time) {
				p.firstByte = now
				if !p.wrote.IsZero() {
					p.processing += now.Sub(p.wrote)
				}
			})
		},
	}
}

func (p *phases) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = time.Now()
}

func (p *phases) durations(resolve time.Duration) map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	transfer := time.Duration(0)
	if !p.firstByte.IsZero() {
		transfer = p.finished.Sub(p.firstByte)
	}
	return map[string]time.Duration{"resolve": resolve, "connect": p.connect, "tls": p.tls, "processing": p.processing, "transfer": transfer}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
