package prober

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// requestHead is a prober's request as net/http's Request.Write renders
// it, made once: every attempt of one httpGet probe sends the same bytes
// but for the Host line. Request.Write re-renders them each time (the
// request line, the User-Agent rules, the sorted header, the Connection
// line); at probe rates that was a tenth of what a cleartext attempt
// spends above the raw loop's dial, write, read and close.
//
// The template is Request.Write's own output for a placeholder host, cut
// around the Host line; an attempt writes it with its own host only when
// Request.Write would have written that host unchanged. Anything else
// (a host to punycode, a zone to drop, a host Request.Write blanks, an
// httptrace that hears each header field written) goes through
// Request.Write itself. TestRequestHeadMatchesRequestWrite compares the
// two byte for byte.
type requestHead struct {
	// before and after surround the host: "GET /p HTTP/1.1\r\nHost: " and
	// "\r\nUser-Agent: …\r\n\r\n". With a Host header set, the whole
	// head is before and fixed is set: the URL's host is not in it.
	before, after string
	fixed         bool
	ok            bool
}

// headPlaceholder stands for the host while the template is rendered:
// a name under a reserved TLD, valid in a Host header.
const headPlaceholder = "probe-exporter.invalid"

// newRequestHead renders req (its URL u, its host to be set per
// attempt) as the one-shot transport sends it. A request Request.Write
// refuses has no template: every attempt meets the same error there.
func newRequestHead(req *http.Request, u url.URL) requestHead {
	u.Host = headPlaceholder
	out := *req
	out.URL = &u
	out.Close = true // as the one-shot transport sends it
	var b bytes.Buffer
	if err := out.Write(&b); err != nil {
		return requestHead{}
	}
	s := b.String()
	if req.Host != "" {
		return requestHead{before: s, fixed: true, ok: true}
	}
	// The request line cannot hold a CR or LF (Request.Write refuses
	// control bytes in it), and the Host line always follows it.
	line := strings.Index(s, "\r\n")
	hostLine := "\r\nHost: " + headPlaceholder + "\r\n"
	if line < 0 || !strings.HasPrefix(s[line:], hostLine) {
		return requestHead{}
	}
	start := line + len("\r\nHost: ")
	return requestHead{before: s[:start], after: s[start+len(headPlaceholder):], ok: true}
}

// write writes the head for a request to host into w, if the template
// gives exactly what Request.Write would; false leaves w untouched.
func (h *requestHead) write(w *bufio.Writer, host string) bool {
	if !h.ok {
		return false
	}
	if h.fixed {
		_, _ = w.WriteString(h.before)
		return true
	}
	// Request.Write punycodes a non-ASCII host, drops an IPv6 zone and
	// sends an empty Host for an invalid one: a host it writes as it is
	// is valid (so ASCII) and has no '%'.
	if !httpguts.ValidHostHeader(host) || strings.IndexByte(host, '%') >= 0 {
		return false
	}
	// A bufio.Writer's errors stick: Flush reports them.
	_, _ = w.WriteString(h.before)
	_, _ = w.WriteString(host)
	_, _ = w.WriteString(h.after)
	return true
}
