// Package series is what identifies one probe's series: its label names
// and values. Labels are rendered to exposition text once, when a probe's
// labels are made, so that a scrape of 100k probes copies text instead of
// escaping and sorting 800k label sets.
package series

import (
	"slices"
	"sort"
	"strings"
)

// The label schema: the names the exporter sets itself, and where the
// fixed ones sit in every Names.
const (
	// Target, Kind and Address come first in every Names, at TargetLabel,
	// KindLabel and AddressLabel: the entry's name; readiness, liveness or
	// startup; what the probe reaches.
	Target  = "target"
	Kind    = "kind"
	Address = "address"
	// Result is the results counter's own label, written into a probe's
	// text at ResultAt.
	Result = "result"
	// Reason is probe_failure_reason's own label, written at ReasonAt.
	Reason = "reason"
	// Expect is what an isolation check's series carry: "unreachable".
	Expect = "expect"
	// SourceNode and Node are what mesh mode's series carry: the node that
	// probed, and the node of the pod probed.
	SourceNode = "source_node"
	Node       = "node"

	TargetLabel  = 0
	KindLabel    = 1
	AddressLabel = 2
)

// Reserved are the label names no entry or relabeling may set: the
// exporter sets them itself.
var Reserved = []string{Target, Kind, Address, Result, Reason, Expect}

// Fixed is the start of every Names: target, kind, address.
func Fixed() []string { return []string{Target, Kind, Address} }

// Names are the label names shared by the series of one entry (target,
// kind, address, then the entry's and its targets' label names): one
// schema, so the series share descriptors.
type Names struct {
	Names []string
	// order is Names' indexes sorted by name, the order label pairs are
	// written in; resultAt is where a "result" pair goes in that order.
	order []int
}

// NewNames makes a schema; names start with target, kind and address.
func NewNames(names []string) *Names {
	n := &Names{Names: names, order: make([]int, len(names))}
	for i := range n.order {
		n.order[i] = i
	}
	sort.Slice(n.order, func(a, b int) bool { return names[n.order[a]] < names[n.order[b]] })
	return n
}

// Has reports whether name is one of the names.
func (n *Names) Has(name string) bool {
	i := sort.Search(len(n.order), func(k int) bool { return n.Names[n.order[k]] >= name })
	return i < len(n.order) && n.Names[n.order[i]] == name
}

// Order is Names' indexes sorted by name: the order label pairs are
// written in, every format alike. Read only.
func (n *Names) Order() []int { return n.order }

// Labels are one probe's label values under a schema, with their text.
type Labels struct {
	Names  *Names
	Values []string // lined up with Names.Names

	text string
	// resultAt and reasonAt are where a result="..." and a reason="..."
	// pair go in text.
	resultAt, reasonAt int32
}

// New makes Labels and renders their text (`a="x",b="y"`: sorted by name,
// values escaped, no braces, as client_golang writes them).
func New(names *Names, values []string) *Labels {
	l := &Labels{Names: names, Values: values, resultAt: -1, reasonAt: -1}
	// Sized up front: a Builder grown by doubling keeps up to twice the
	// text, and every probe holds its labels' text for its lifetime.
	size := 0
	for i, n := range names.Names {
		size += len(n) + len(values[i]) + len(`="",`)
	}
	var b strings.Builder
	b.Grow(size)
	for k, i := range names.order {
		if k > 0 {
			b.WriteByte(',')
		}
		if l.resultAt < 0 && names.Names[i] > Result {
			l.resultAt = int32(b.Len())
		}
		if l.reasonAt < 0 && names.Names[i] > Reason {
			l.reasonAt = int32(b.Len())
		}
		b.WriteString(names.Names[i])
		b.WriteString(`="`)
		valueEscaper.WriteString(&b, values[i])
		b.WriteByte('"')
	}
	if l.resultAt < 0 {
		l.resultAt = int32(b.Len())
	}
	if l.reasonAt < 0 {
		l.reasonAt = int32(b.Len())
	}
	l.text = b.String()
	l.shareValues()
	return l
}

// shareValues points each value that needed no escaping at its copy in
// the text, so that a probe's labels hold their characters once: the
// strings they were made from (an address, a discovered object's fields)
// can go. At 50k discovered endpoints that was 4 MB of the live heap.
// Values is the caller's slice, handed over with New.
func (l *Labels) shareValues() {
	at := 0
	for k, i := range l.Names.order {
		if k > 0 {
			at++ // ','
		}
		at += len(l.Names.Names[i]) + len(`="`)
		v := l.Values[i]
		if strings.ContainsAny(v, "\\\n\"") {
			// Escaped in the text: its length there differs.
			at += len(valueEscaper.Replace(v)) + 1
			continue
		}
		l.Values[i] = l.text[at : at+len(v)]
		at += len(v) + 1 // '"'
	}
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// Text is the labels' exposition text.
func (l *Labels) Text() string { return l.text }

// ResultAt is where a result="..." pair belongs in Text's order.
func (l *Labels) ResultAt() int { return int(l.resultAt) }

// ReasonAt is where a reason="..." pair belongs in Text's order.
func (l *Labels) ReasonAt() int { return int(l.reasonAt) }

// Address is the address label's value.
func (l *Labels) Address() string { return l.Values[AddressLabel] }

// Equal reports whether l and o describe the same series.
func (l *Labels) Equal(o *Labels) bool {
	return l == o || (l.Names == o.Names && slices.Equal(l.Values, o.Values))
}
