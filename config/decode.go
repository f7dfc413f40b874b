package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/probe-exporter/probe-exporter/probe"
)

type position struct{ line, column int }

// decoder walks a yaml.Node tree into Go values by reflection. yaml.v3's own
// strict decoding reports a line but neither column nor field path, and
// stops at the first problem; walking the tree ourselves gives all three and
// records where every path was written, for validation errors later.
type decoder struct {
	file string
	pos  map[string]position
	errs Errors
	// more counts the errors past maxErrors: found, not kept.
	more int
	// expanded counts the nodes the walk visited through aliases: they
	// can make a small file expand exponentially ("billion laughs"), and
	// the walk follows them. Nodes written out in the file cost what the
	// file costs and are not counted. inAlias is how deep in aliases the
	// walk is.
	expanded int
	inAlias  int
	tooLong  bool
	// inAnchor is how deep in anchored nodes the walk is: what an alias
	// may still refer to must stay; everything else is dropped once
	// decoded, so a big file's node tree is freed as it is walked.
	inAnchor int
	// lost are the paths whose value could not be decoded (the wrong
	// type, out of range): validation, which runs on what did decode,
	// says nothing at them or under them (a mistyped port is not also a
	// missing one). An unknown or repeated field loses nothing.
	lost map[string]bool
}

// maxExpanded bounds what aliases may expand to: far above any real use
// (shared probe blocks and label sets), far below a hang.
const maxExpanded = 1_000_000

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]position{}, lost: map[string]bool{}}
}

// errorf reports that the value at path could not be decoded: it is lost.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.lost[path] = true
	d.notef(n, path, format, args...)
}

// notef reports a problem at path that loses no value (an unknown field,
// one set twice): what decoded is validated as usual.
func (d *decoder) notef(n *yaml.Node, path, format string, args ...any) {
	e := FieldError{File: d.file, Path: path}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.report(e, format, args...)
}

// parent is path's enclosing field or list ("" at the top).
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// silenced says whether validation keeps quiet about path: its value, or
// a value around it, was lost. (A lost block is decoded as an empty one:
// what is said of it, or in it, would be said of nothing the user wrote.)
func (d *decoder) silenced(path string) bool {
	if len(d.lost) == 0 {
		return false
	}
	for p := path; ; p = parent(p) {
		if d.lost[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// at returns the position recorded for path, or for its nearest recorded
// parent: a missing field is reported where its parent block starts.
func (d *decoder) at(path string) position {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.pos[""]
		}
		path = path[:i]
	}
}

func (d *decoder) decodeDocument(data []byte, out any) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty file is an empty configuration.
			return nil
		}
		return Errors{syntaxError(d.file, err, data)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Errors{{File: d.file, Line: extra.Line, Column: extra.Column, Msg: "only one YAML document is allowed"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	// Field errors are kept, not returned: what did decode is validated
	// too, so that a file's every problem is said in one pass.
	d.value(root, "", reflect.ValueOf(out).Elem())
	return nil
}

var intOrStringType = reflect.TypeOf(probe.IntOrString{})

// spend charges k nodes to the alias budget, when the walk is inside an
// alias, and reports whether it may go on.
func (d *decoder) spend(n *yaml.Node, path string, k int) bool {
	if d.inAlias == 0 {
		return !d.tooLong
	}
	if d.expanded += k; d.expanded <= maxExpanded {
		return true
	}
	if !d.tooLong {
		d.tooLong = true
		d.errorf(n, path, "YAML aliases expand to more than %d nodes; write the repeated parts out, or share less", maxExpanded)
	}
	return false
}

func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if !d.spend(n, path, 1) {
		return
	}
	if n.Kind == yaml.AliasNode {
		d.inAlias++
		defer func() { d.inAlias-- }()
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
	}
	if n.Anchor != "" {
		d.inAnchor++
		defer func() { d.inAnchor-- }()
	}
	d.pos[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the zero value, as in Kubernetes
	}
	switch {
	case v.Type() == intOrStringType:
		d.intOrString(n, path, v)
	case v.Kind() == reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.value(n, path, nv.Elem())
		v.Set(nv)
	case v.Kind() == reflect.Struct:
		d.structure(n, path, v)
	case v.Kind() == reflect.Slice:
		d.sequence(n, path, v)
	case v.Kind() == reflect.Map:
		d.stringMap(n, path, v)
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case v.Kind() == reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errorf(n, path, "expected a positive integer, got %s", kindName(n))
			return
		}
		u, err := strconv.ParseUint(n.Value, 0, 64)
		if err != nil {
			d.errorf(n, path, "expected a positive integer, got %s", n.Value)
			return
		}
		v.SetUint(u)
	case v.Kind() == reflect.Int32 || v.Kind() == reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errorf(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
		if err != nil {
			d.errorf(n, path, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// pairs is a mapping's key/value pairs with YAML merge keys ("<<: *x",
// "<<: [*a, *b]") resolved as the merge type defines them: the mapping's
// own keys win over merged ones, and earlier merged mappings over later
// ones. merged marks pairs that came from a merge: they are never "set
// twice".
func (d *decoder) pairs(n *yaml.Node, path string) (ps [][2]*yaml.Node, merged []bool) {
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMerge(k) {
			own[k.Value] = true
		}
	}
	taken := map[string]bool{}
	var fromMerge [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			ps = append(ps, [2]*yaml.Node{k, val})
			merged = append(merged, false)
			continue
		}
		if !d.spend(k, path, 1) {
			return nil, nil
		}
		sources := []*yaml.Node{val}
		if deref(val).Kind == yaml.SequenceNode {
			sources = deref(val).Content
		}
		for _, src := range sources {
			m := deref(src)
			if m.Kind != yaml.MappingNode {
				d.errorf(src, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindName(m))
				continue
			}
			d.inAlias++ // what a merge brings in costs as an alias does
			sub, _ := d.pairs(m, path)
			d.inAlias--
			for _, p := range sub {
				if !own[p[0].Value] && !taken[p[0].Value] {
					taken[p[0].Value] = true
					fromMerge = append(fromMerge, p)
				}
			}
		}
	}
	for _, p := range fromMerge {
		ps = append(ps, p)
		merged = append(merged, true)
	}
	return ps, merged
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "")
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	// seen marks the fields set, by index; a source block is one per
	// entry, which sourceBlock checks. Kept small: a file of millions of
	// entries walks this millions of times.
	seen := make([]bool, v.NumField())
	var seenSource string
	ps, _ := d.pairs(n, path)
	for _, p := range ps {
		k, val := p[0], p[1]
		fp := join(path, k.Value)
		idx, ok := fields.index[k.Value]
		if !ok && v.Type() == entryType {
			if newBlock := source(k.Value); newBlock != nil {
				if seenSource == k.Value {
					d.notef(k, fp, "field is set twice")
					continue
				}
				seenSource = k.Value
				d.sourceBlock(k, val, fp, v.Addr().Interface().(*Entry), newBlock)
				continue
			}
		}
		if !ok {
			known := fields.names
			if v.Type() == entryType {
				known = append(append([]string(nil), known...), SourceKeys()...)
			}
			d.notef(k, fp, "unknown field %q (known fields: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[idx] {
			d.notef(k, fp, "field is set twice")
			continue
		}
		seen[idx] = true
		d.value(val, fp, v.Field(idx))
	}
}

// structFields is a struct type's YAML field names: the name of each
// field's index, and the names in declaration order for messages.
type structFields struct {
	index map[string]int
	names []string
}

// fieldTables holds one structFields per struct type decoded, built once:
// building it for every mapping cost 3 GB of garbage for a 16 MiB file.
var fieldTables sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldTables.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			f.index[tag] = i
			f.names = append(f.names, tag)
		}
	}
	fieldTables.Store(t, f)
	return f
}

var entryType = reflect.TypeOf(Entry{})

// sourceBlock decodes a registered source's block into the entry.
func (d *decoder) sourceBlock(k, val *yaml.Node, path string, e *Entry, newBlock func() Source) {
	if e.Discovered != nil {
		d.errorf(k, path, "Forbidden: an entry discovers through one source; %s is set already (use two entries)", e.Discovered.Mechanism)
		return
	}
	block := newBlock()
	d.value(val, path, reflect.ValueOf(block).Elem())
	e.Discovered = &Discovered{Mechanism: k.Value, Config: block}
}

func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
		if d.inAlias == 0 && d.inAnchor == 0 {
			n.Content[i] = nil // decoded, and nothing refers to it
		}
	}
	v.Set(s)
}

func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if !d.spend(n, path, len(n.Content)/2) {
		return
	}
	ps, _ := d.pairs(n, path)
	m := reflect.MakeMapWithSize(v.Type(), len(ps))
	for _, p := range ps {
		k, val := p[0], deref(p[1])
		fp := join(path, k.Value)
		d.pos[fp] = position{k.Line, k.Column}
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.notef(k, fp, "key is set twice")
			continue
		}
		if elem := v.Type().Elem(); elem.Kind() != reflect.String {
			// A map of blocks (modules: name -> probe).
			nv := reflect.New(elem).Elem()
			d.value(val, fp, nv)
			m.SetMapIndex(reflect.ValueOf(k.Value), nv)
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			d.errorf(val, fp, "expected a string value, got %s", kindName(val))
			continue
		}
		m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(val.Value))
	}
	v.Set(m)
}

func (d *decoder) intOrString(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a port number or name, got %s", kindName(n))
		return
	}
	var p probe.IntOrString
	switch n.Tag {
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			d.errorf(n, path, "integer %s is out of range", n.Value)
			return
		}
		p.IntVal = int32(i)
	case "!!str":
		p.IsString, p.StrVal = true, n.Value
	default:
		d.errorf(n, path, "expected a port number or name, got %s", kindName(n))
		return
	}
	v.Set(reflect.ValueOf(p))
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "an unexpected node"
}
