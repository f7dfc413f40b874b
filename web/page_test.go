package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
)

// countPage is a whole new page in a test: what one costs is a type
// with its routes and its link, over the read model, and its line in
// pages; Handler serves it, bounds its views and links it.
type countPage struct{}

func (countPage) Link() web.LandingLinks { return web.LandingLinks{Address: "/count", Text: "Count"} }

func (countPage) Routes(mux *http.ServeMux, s *Site) {
	mux.Handle("GET /count", s.View(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(s.Probes.Targets())
	})))
}

func TestNewPage(t *testing.T) {
	saved := pages
	defer func() { pages = saved }()
	pages = append(pages, countPage{}) // the one line

	h, err := Handler(Options{Metrics: http.NotFoundHandler(), Site: &Site{Probes: statusFixture()}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	var counts map[string]int
	if err := json.Unmarshal([]byte(get("/count")), &counts); err != nil || counts["web"] == 0 {
		t.Errorf("/count: %v %v", counts, err)
	}
	if landing := get("/"); !strings.Contains(landing, `href="/count"`) || !strings.Contains(landing, `href="/targets"`) {
		t.Errorf("landing page links:\n%s", landing)
	}
}
