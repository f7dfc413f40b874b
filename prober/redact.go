package prober

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/probe-exporter/probe-exporter/probe"
)

// redactor keeps secrets out of what an attempt says: its output and
// errors go to logs (the state-change line, debug lines) and into the
// state a status page shows. The kubelet's events print URLs whole; ours
// don't, because a probe's query string or headers often carry a token.
type redactor struct {
	// secrets are the values the probe's definition holds that may be
	// credentials: its header values (Host aside) and query values, and
	// for exec the variables passed from the exporter's environment.
	secrets []string
}

// redacted replaces a secret wherever it appears.
const redacted = "<redacted>"

// minSecret is the shortest value treated as a secret: shorter ones
// ("1", "on") would blot out unrelated text and protect nothing.
const minSecret = 4

func newRedactor(values ...string) redactor {
	var r redactor
	for _, v := range values {
		if len(v) >= minSecret {
			r.secrets = append(r.secrets, v)
		}
	}
	return r
}

// httpRedactor holds the values of a probe's configured headers, but
// Host, User-Agent and Accept (an address and content negotiation, shown
// anyway), and the values of its path's query.
func httpRedactor(headers []probe.HTTPHeader, path string) redactor {
	var values []string
	for _, h := range headers {
		switch http.CanonicalHeaderKey(h.Name) {
		case "Host", "User-Agent", "Accept":
		default:
			values = append(values, h.Value)
		}
	}
	if u, err := url.Parse(path); err == nil {
		for _, vv := range u.Query() {
			values = append(values, vv...)
		}
	}
	return newRedactor(values...)
}

// text redacts the secrets in s.
func (r redactor) text(s string) string {
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}

// error is err's text with every URL's query values redacted (a redirect
// may have taken the request to a URL the definition never named) and
// then the secrets.
func (r redactor) error(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		cp.URL = redactQuery(ue.URL)
		return r.text(strings.Replace(err.Error(), ue.Error(), cp.Error(), 1))
	}
	return r.text(err.Error())
}

// redactQuery replaces each query value in raw, and a password, with
// <redacted>; the keys stay, for telling requests apart.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vv := range q {
			for i := range vv {
				vv[i] = redacted
			}
			q[k] = vv
		}
		// Encode would escape the brackets; they read better as they are.
		u.RawQuery = strings.ReplaceAll(strings.ReplaceAll(q.Encode(), "%3C", "<"), "%3E", ">")
	}
	return u.Redacted()
}
