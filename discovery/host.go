package discovery

import "net/netip"

// SkipInvalidHost is the skipped reason of a discovered target whose host
// is neither an IP address nor a DNS host name.
const SkipInvalidHost = "invalid_host"

// ValidHost reports whether h may be a target's host: an IP address
// without a zone, or a DNS name as Go's resolver accepts one since
// CVE-2021-33195 (letters, digits, '-', '_' and dots; labels of 1–63
// characters not starting with '-'; at most 253 characters, a trailing
// dot aside; not all digits). Discovered names are untrusted: an SRV
// answer, an FQDN EndpointSlice or a load balancer's hostname reaches
// the probe's address label and an exec probe's $(PROBE_HOST), so
// nothing else (no space, quote, '$', '`', ';', '/') may pass.
func ValidHost(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	nonNumeric := false
	label := 0 // the current label's length
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
			nonNumeric = true
			label++
		case '0' <= c && c <= '9':
			label++
		case c == '-':
			if label == 0 {
				return false // a label does not start with '-'
			}
			nonNumeric = true
			label++
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return false // an empty label, or one ending with '-'
			}
			label = 0
			continue
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return nonNumeric && h[len(h)-1] != '-'
}

// DropInvalidHosts removes the group's targets whose host, or route's
// Via, is not ValidHost, counting them in Skipped under SkipInvalidHost.
func (g *Group) DropInvalidHosts() {
	kept := g.Targets[:0]
	for _, t := range g.Targets {
		// A route's Via (an Ingress's or Gateway's status address) is
		// dialed too: it must be a host as much as Host.
		if ValidHost(t.Host) && (t.Route == nil || t.Route.Via == "" || ValidHost(t.Route.Via)) {
			kept = append(kept, t)
			continue
		}
		if g.Skipped == nil {
			g.Skipped = map[string]int{}
		}
		g.Skipped[SkipInvalidHost]++
	}
	clear(g.Targets[len(kept):])
	g.Targets = kept
}
