package prober

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// httpFacts is what an httpGet attempt learned of its final response
// beyond the result: its Content-Length (-1 unknown), protocol version,
// and the redirects followed to it (an HTTPS response's TLS facts are
// the Outcome's: every attempt keeps them). Zero without a response.
type httpFacts struct {
	contentLength int64
	version       float64
	redirects     int
}

// describe records what a response's head says: its status in o, the
// rest in hf.
func describe(o *Outcome, hf *httpFacts, res *http.Response) {
	o.StatusCode, hf.contentLength = res.StatusCode, res.ContentLength
	hf.version = float64(res.ProtoMajor) + float64(res.ProtoMinor)/10
	for r := res.Request; r != nil && r.Response != nil; r = r.Response.Request {
		hf.redirects++
	}
	o.TLS = TLSFactsFrom(res.TLS)
}

// probeWithFacts runs the attempt timing its phases, and reports its
// facts as blackbox_exporter's http prober names them.
func (p *httpProber) probeWithFacts(ctx context.Context, t *Target, f *Facts) Outcome {
	ph := &phases{}
	var hf httpFacts
	o := p.attempt(httptrace.WithClientTrace(ctx, ph.trace()), t, &hf)
	ph.end()
	var resolve time.Duration
	if tr, ok := ctx.Value(traceKey{}).(*trace); ok {
		resolve = time.Duration(tr.lookupNanos.Load())
	}
	f.add(
		Fact{Name: "probe_http_status_code", Help: "HTTP status code of the final response, 0 if none.", Value: float64(o.StatusCode)},
		Fact{Name: "probe_http_content_length", Help: "Content-Length of the final response, -1 when unknown.", Value: float64(hf.contentLength)},
		Fact{Name: "probe_http_version", Help: "HTTP version of the final response.", Value: hf.version},
		Fact{Name: "probe_http_redirects", Help: "Redirects followed to the final response.", Value: float64(hf.redirects)},
		Fact{Name: "probe_http_ssl", Help: "Whether the final response came over TLS.", Value: boolValue(o.TLS != nil)},
	)
	for _, d := range ph.durations(resolve) {
		f.add(Fact{Name: "probe_http_duration_seconds", Labels: []string{"phase"}, Values: []string{d.phase}, Value: d.took.Seconds(),
			Help: "Time in each phase of the HTTP request, summed over redirects: resolve, connect, tls, processing (request sent to first response byte), transfer (first byte to the end of the body read)."})
	}
	if o.TLS != nil {
		f.add(o.TLS.Facts()...)
	}
	return o
}

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

type phaseTime struct {
	phase string
	took  time.Duration
}

func (p *phases) durations(resolve time.Duration) []phaseTime {
	p.mu.Lock()
	defer p.mu.Unlock()
	transfer := time.Duration(0)
	if !p.firstByte.IsZero() {
		transfer = p.finished.Sub(p.firstByte)
	}
	return []phaseTime{{"resolve", resolve}, {"connect", p.connect}, {"tls", p.tls}, {"processing", p.processing}, {"transfer", transfer}}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
