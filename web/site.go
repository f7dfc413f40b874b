package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/probe-exporter/probe-exporter/state"
)

// Site is what the exporter's own pages read: the read model and what
// the running configuration says of itself.
type Site struct {
	// Probes is every probe now (the scheduler, or a fixed set).
	Probes state.Reader
	// Entries are the running configuration's entry names: an entry
	// asked for by name that is not one is a 404 (an entry with no
	// targets now is an empty list). Nil: the entries with probes.
	Entries func() []string
	// LastReload is when the last configuration load ended and its error
	// (nil: what it loaded runs); the pages show a failed one.
	LastReload func() (time.Time, error)
	// Replicas, when set, lets a view ask for every replica (scope=all).
	Replicas *Replicas

	// views bounds the views built at once, across every page (limit).
	views func(http.Handler) http.Handler
}

// Page is one page of the site (HTML or JSON) over the read model. A new
// page is a type implementing it, in its own file, and its line in pages.
type Page interface {
	// Routes registers the page's handlers on mux.
	Routes(mux *http.ServeMux, s *Site)
	// Link is the landing page's link to the page; no Text: not linked.
	Link() web.LandingLinks
}

// pages are the site's pages, in the landing page's order.
var pages = []Page{targetsPage{}, meshPage{}}

// View wraps a page's handler that builds a view of every probe: at
// most statusViews are built at once, site-wide (limit).
func (s *Site) View(h http.Handler) http.Handler { return s.views(h) }

// reloadFailure says a failed last reload and its error, or "" when it
// succeeded.
func (s *Site) reloadFailure() (string, error) {
	if s.LastReload == nil {
		return "", nil
	}
	at, err := s.LastReload()
	if err == nil {
		return "", nil
	}
	return fmt.Sprintf("the configuration reload at %s failed; the previous configuration is still running", at.UTC().Format(time.RFC3339)), err
}

// Endpoint is a plain endpoint beside the site's pages (the demo
// target), linked from the landing page when Text is set.
type Endpoint struct {
	Path    string
	Text    string
	Handler http.Handler
}

// Routes serves the endpoint at its path.
func (e Endpoint) Routes(mux *http.ServeMux, _ *Site) { mux.Handle(e.Path, e.Handler) }

// Link is the endpoint's landing link.
func (e Endpoint) Link() web.LandingLinks { return web.LandingLinks{Address: e.Path, Text: e.Text} }
