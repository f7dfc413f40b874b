package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestScrapeFormats: the binary's /metrics says the same series in text
// and delimited protobuf, plain and gzipped, each streamed from its own
// snapshot; no series twice in any of them. (OpenMetrics, which expfmt
// can't decode, is compared line by line with client_golang's in
// collector's TestFastPathMatchesCollector; here it must end in # EOF,
// gzipped too.)
func TestScrapeFormats(t *testing.T) {
	e := start(t)
	// Every probe attempted: from then on the set of series holds still.
	e.eventually(t, "every self-probe's first result", func(mfs map[string]*dto.MetricFamily) bool {
		n := len(mfs["probe_state"].GetMetric())
		return n > 0 && len(mfs["probe_success"].GetMetric()) == n
	}, nil)
	series := func(accept string, gz bool) []string {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+"/metrics", nil)
		req.Header.Set("Accept", accept)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		// No transparent decompression: the response's own encoding is
		// what is checked.
		res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body io.Reader = res.Body
		if gz {
			if res.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: asked for gzip, got %q", accept, res.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		dec := expfmt.NewDecoder(body, expfmt.ResponseFormat(res.Header))
		var out []string
		var mfs []*dto.MetricFamily
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", accept, err)
			}
			mfs = append(mfs, &mf)
		}
		byName := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			if _, dup := byName[mf.GetName()]; dup {
				t.Errorf("%s: family %s twice", accept, mf.GetName())
			}
			byName[mf.GetName()] = mf
			// Only the per-probe and target families: the others (Go,
			// process) change between scrapes.
			if !strings.HasPrefix(mf.GetName(), "probe_") || strings.HasPrefix(mf.GetName(), "probe_exporter_") && mf.GetName() != "probe_exporter_targets" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var pairs []string
				for _, l := range m.GetLabel() {
					pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
				}
				sort.Strings(pairs)
				out = append(out, strings.TrimSuffix(mf.GetName(), "_total")+"{"+strings.Join(pairs, ",")+"}")
			}
		}
		checkNoDuplicates(t, byName)
		sort.Strings(out)
		return out
	}
	want := series("text/plain;version=0.0.4", false)
	if len(want) == 0 {
		t.Fatal("no per-probe series")
	}
	for _, gz := range []bool{false, true} {
		req, _ := http.NewRequest("GET", e.url+"/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = res.Body
		if gz {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		res.Body.Close()
		if err != nil || !strings.HasSuffix(string(b), "# EOF\n") || !strings.Contains(string(b), "probe_state{") {
			t.Errorf("OpenMetrics (gzip %v): %v, %d bytes, ends %q", gz, err, len(b), b[max(0, len(b)-20):])
		}
	}
	for _, f := range []struct {
		accept string
		gz     bool
	}{
		{"text/plain;version=0.0.4", true},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", false},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", true},
	} {
		if got := series(f.accept, f.gz); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s (gzip %v): series differ from text's\n got: %v\nwant: %v", f.accept, f.gz, got, want)
		}
	}
}
