// Package discovery turns configuration into sets of things to probe. Each
// source yields a Group keyed by a stable Source name, as Prometheus'
// discovery does: a consumer replaces what it had for that Source and never
// diffs whole worlds. Static lists are a source like the others
// (static.go); Kubernetes and DNS register theirs (Register), and Manager
// runs them all.
package discovery

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/probe-exporter/probe-exporter/config"
)

// Target is one discovered thing to probe.
type Target struct {
	// ID identifies the target within its group across changes of its
	// labels, so that its probe state survives them. Empty: derived from
	// host, port and labels.
	ID ID
	// Host is an IP address or DNS name.
	Host string
	// Port is the target's own port, 0 if it has none.
	Port int32
	// Address, when set, is __address__ as Prometheus' discovery builds
	// it for the same object, for relabel_configs, where it differs from
	// Host:Port (the service role's "svc.ns.svc:port"). Left unchanged by
	// relabeling, Host and Port are probed.
	Address string
	// NamedPorts resolve probes' named ports for this target.
	NamedPorts map[string]int32
	// Labels are the target's own labels; they override the entry's.
	Labels map[string]string
	// Meta are the __meta_* labels relabel_configs can use; they are not
	// exported.
	Meta map[string]string
	// Since is when the target started, for initialDelaySeconds (a
	// container's startedAt); zero means when it was first seen.
	Since time.Time
	// Probes, when set, are the target's own probes (a container's, with
	// inheritProbes) instead of the entry's.
	Probes []config.KindProbe
	// Route, when set, is an L7 route's (an Ingress rule's path): the
	// entry's httpGet probes GET its path with its scheme, as the virtual
	// host Host names, through its Via address.
	Route *Route
}

// Route is where an L7 route sends a request: Host (the Target's) is the
// virtual host, the URL's host, Host header and TLS server name; Via,
// when set, is the address connected to instead (the controller's or
// gateway's), as curl's --resolve.
type Route struct {
	Scheme string // "HTTP" or "HTTPS"
	Path   string
	Via    string
}

// HostPort is the target's own address: host:port, or the host when it
// has no port.
func (t *Target) HostPort() string {
	if t.Port == 0 {
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// RelabelAddress is __address__ as relabel_configs see it: Address when
// discovery set it (what Prometheus builds for the same object), else
// HostPort.
func (t *Target) RelabelAddress() string {
	if t.Address != "" {
		return t.Address
	}
	return t.HostPort()
}

// Group is everything one source yields now. A Group with no Targets
// means the source has nothing (any more).
type Group struct {
	Source  string
	Targets []Target
	// Skipped counts objects of the source that yield no target, by
	// reason (a headless Service asked for its ClusterIP, an exec probe).
	Skipped map[string]int
}

// Discoverer runs one mechanism's discovery (kubernetes, ...) for any
// number of entries: Start begins discovering for one entry, whose block
// the mechanism registered with config.RegisterSource, and calls send
// with every group that changes until ctx ends. It fails only when it
// can't start at all; a source that can't be reached is retried, and says
// so in Metrics.
type Discoverer interface {
	Start(ctx context.Context, entry string, block config.Source, send func(Group)) (Running, error)
}

// Host is what a source's start-up checks know of where the exporter
// runs.
type Host struct {
	// NodeName is --node-name ($NODE_NAME): the exporter's node.
	NodeName string
}

// Preflight is a discovery block with checks of where it runs, beyond
// its own validation: made by its Discoverer's Start and by
// --config.check alike, so that the check says what start would refuse.
type Preflight interface {
	Preflight(Host) error
}

// Running is a started dynamic source.
type Running interface {
	// Synced reports whether the source has everything it found
	// delivered (listed, not relisting, its source answering, every group
	// sent and taken). --once waits for it; the exporter renders it as
	// probe_exporter_discovery_synced at scrape time.
	Synced() bool
	// Wait blocks until the source has stopped (its context ended).
	Wait()
	// Resync sends every group the source knows again, so that a changed
	// consumer (an entry whose probes or relabeling changed) re-derives
	// its targets without the source restarting its watches.
	Resync()
}

// ID is a target's identity within its group: what stays the same while
// the thing it names does (a container and its port, a record's target
// and port).
type ID string

// idSeparator joins an ID's parts.
const idSeparator = "|"

// IDOf joins parts into an ID. A part that holds the separator (or a
// quote) is quoted, so that different parts never make the same ID.
func IDOf(parts ...string) ID {
	var b strings.Builder
	size := 0
	for _, p := range parts {
		size += len(p) + len(idSeparator)
	}
	b.Grow(size) // held as long as the target: no doubling slack
	for i, p := range parts {
		if i > 0 {
			b.WriteString(idSeparator)
		}
		if strings.ContainsAny(p, idSeparator+`"`) {
			p = strconv.Quote(p)
		}
		b.WriteString(p)
	}
	return ID(b.String())
}

// String is the ID as logs show it.
func (id ID) String() string { return string(id) }
