package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file, located by position and path.
type FieldError struct {
	File   string
	Line   int
	Column int
	Path   string
	Msg    string
}

func (e FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Path + ": " + e.Msg
}

// Errors is every problem found in one file; all are reported at once so a
// user fixes a file in one pass.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}

// maxErrors is how many errors a file reports: a file of half a million
// bad entries must not cost half a million messages (hundreds of MB, one
// log line of tens of MB); the rest are counted.
const maxErrors = 100

// report keeps an error, formatting its message only while fewer than
// maxErrors are kept.
func (d *decoder) report(e FieldError, format string, args ...any) {
	if d.full() {
		d.more++
		return
	}
	e.Msg = fmt.Sprintf(format, args...)
	d.errs = append(d.errs, e)
}

// full reports whether maxErrors are kept: later ones are only counted.
func (d *decoder) full() bool { return len(d.errs) >= maxErrors }

// result is the errors found, in file order, and how many more there were.
func (d *decoder) result() Errors {
	es := d.errs.sorted()
	if d.more > 0 {
		es = append(es, FieldError{File: d.file, Msg: fmt.Sprintf("and %d more errors (the first %d are listed)", d.more, maxErrors)})
	}
	return es
}
