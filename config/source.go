package config

import (
	"encoding/json"
	"sort"
	"sync"
)

// Source is a discovery block an entry holds instead of static: a
// package that discovers targets (discovery/kubernetes, and the next ones)
// registers its block type under its key, and owns its schema (the struct
// it decodes into, field by field, with the same strictness and
// file:line:column errors as the rest of the file), defaults and
// validation.
type Source interface {
	SetDefaults()
	Validate(c Checker, path string)
}

// OwnProbes is implemented by sources whose targets can bring their own
// probes (kubernetes' inheritProbes): the entry then needs none.
type OwnProbes interface {
	OwnProbes() bool
}

// Resolving is implemented by sources whose targets' names resolve
// through the source's own nameservers (a dns: block's): the entry's
// probes then ask those too.
type Resolving interface {
	ProbeNameservers() []string
}

// Family is implemented by sources that pick an address family (a
// kubernetes block's ipFamily): "IPv4", "IPv6", or "" for none. It
// applies to names the entry's probes resolve unless the entry sets its
// own ipFamily.
type Family interface {
	AddressFamily() string
}

// Expanding is implemented by sources whose block names targets by
// pattern (a dns: block's brace ranges): Expands is how many targets it
// makes, counted without making them, against the file's bound.
type Expanding interface {
	Expands() int
}

// MaxExpandedTargets bounds what a file's patterns expand to (a 3 KB file
// of brace ranges made a million targets); --config.max-expanded-targets
// sets it.
var MaxExpandedTargets = 100_000

// Expanded is how many targets the file's patterns expand to.
func (c *Config) Expanded() int {
	n := 0
	for i := range c.Targets {
		if d := c.Targets[i].Discovered; d != nil {
			if e, ok := d.Config.(Expanding); ok {
				n += e.Expands()
			}
		}
	}
	return n
}

// Network is what an entry's probes resolve names through: the source's
// nameservers (none: resolv.conf's) and the address family ("" for
// both).
func (e *Entry) Network() (servers []string, family string) {
	family = e.IPFamily
	if e.Discovered == nil {
		return nil, family
	}
	if r, ok := e.Discovered.Config.(Resolving); ok {
		servers = r.ProbeNameservers()
	}
	if f, ok := e.Discovered.Config.(Family); ok && family == "" {
		family = f.AddressFamily()
	}
	return servers, family
}

// Checker reports validation problems at a field path; the position comes
// from where the path was written in the file.
type Checker interface {
	// Invalid: "Invalid value: <value>: <msg>".
	Invalid(path string, value any, msg string)
	// Add: any other message ("Required value: ...", "Forbidden: ...").
	Add(path, format string, args ...any)
	// OneOf checks value against allowed ("Unsupported value: ...").
	OneOf(path, value string, allowed []string) bool
}

// Discovered is an entry's source block and the key it was written under.
type Discovered struct {
	Mechanism string
	Config    Source
}

// MarshalJSON renders the block (the manager compares renderings to tell
// a changed block from an unchanged one).
func (d *Discovered) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{d.Mechanism: d.Config})
}

var (
	sourcesMu sync.RWMutex
	sources   = map[string]func() Source{}
)

// RegisterSource makes key a valid entry field whose block decodes into
// what newBlock returns. Sources register from their package's init.
func RegisterSource(key string, newBlock func() Source) {
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if _, dup := sources[key]; dup {
		panic("config: source " + key + " registered twice")
	}
	sources[key] = newBlock
}

func source(key string) func() Source {
	sourcesMu.RLock()
	defer sourcesMu.RUnlock()
	return sources[key]
}

// SourceKeys are the registered sources' keys, sorted.
func SourceKeys() []string {
	sourcesMu.RLock()
	defer sourcesMu.RUnlock()
	keys := make([]string, 0, len(sources))
	for k := range sources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
