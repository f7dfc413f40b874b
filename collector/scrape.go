package collector

import (
	"bufio"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Preparer returns what prepares a scrape (web.Scrapes runs it, one at a
// time): a snapshot of every probe (about 100 bytes each) and self's
// families gathered with it. The handler it returns writes that moment
// out to any number of requests, each in the format and encoding it
// asks for, streamed: nothing is rendered whole into memory. self must
// not contain c; slow serves the formats written here by nobody (the
// protobuf text formats, for debugging) and must serve everything.
func Preparer(c *Collector, self prometheus.Gatherer, slow http.Handler, log *slog.Logger) func() http.Handler {
	return func() http.Handler {
		mfs, err := self.Gather()
		if err != nil {
			// As promhttp's ContinueOnError: serve what was gathered.
			log.Error("gathering self-metrics", "err", err)
		}
		return &prepared{snap: c.snapshot(), self: mfs, slow: slow, log: log}
	}
}

// Handler serves /metrics, preparing a scrape for each request.
func Handler(c *Collector, self prometheus.Gatherer, slow http.Handler, log *slog.Logger) http.Handler {
	prepare := Preparer(c, self, slow, log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { prepare().ServeHTTP(w, r) })
}

// prepared is one scrape's moment.
type prepared struct {
	snap *snapshot
	self []*dto.MetricFamily
	slow http.Handler
	log  *slog.Logger
}

func (p *prepared) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	typ := format.FormatType()
	if typ != expfmt.TypeTextPlain && typ != expfmt.TypeOpenMetrics && typ != expfmt.TypeProtoDelim {
		p.slow.ServeHTTP(rw, r)
		return
	}
	rw.Header().Set("Content-Type", string(format))
	var out io.Writer = rw
	if acceptsGzip(r) {
		rw.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(rw, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	w := bufio.NewWriterSize(out, 64<<10)
	if typ == expfmt.TypeProtoDelim {
		p.snap.writeProto(w)
	} else {
		p.snap.writeText(w, typ == expfmt.TypeOpenMetrics)
	}
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range p.self {
		if err := enc.Encode(mf); err != nil {
			p.log.Debug("writing metrics", "err", err)
			return
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		_ = closer.Close() // "# EOF" for OpenMetrics
	}
	if err := w.Flush(); err != nil {
		p.log.Debug("writing metrics", "err", err)
	}
}
