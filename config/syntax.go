package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError lifts yaml.v3's "yaml: line N: msg" into a FieldError at
// the line that broke the file. yaml.v3 names the line where the
// enclosing block starts (a mis-indented key on line 6 is "line 1" when
// the list it breaks starts there), so the line is found again: the
// first line at which the file, cut there, fails the same way.
func syntaxError(file string, err error, data []byte) FieldError {
	m := syntaxLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return FieldError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	msg := "YAML syntax error: " + m[2]
	if at := brokenLine(data, line, m[2]); at > line {
		msg += fmt.Sprintf(" (in the block that starts on line %d)", line)
		line = at
	}
	return FieldError{File: file, Line: line, Column: indentOf(data, line) + 1, Msg: msg}
}

// maxSearched bounds the files brokenLine searches: it parses the file up
// to log2(lines) times.
const maxSearched = 1 << 20

// brokenLine is the first line, from line on, at which data cut after it
// fails to parse with msg; 0 if there is none, or the file is too big to
// search. A file cut earlier parses (or fails otherwise), cut later fails
// the same way: a binary search.
func brokenLine(data []byte, line int, msg string) int {
	if len(data) > maxSearched {
		return 0
	}
	ends := []int{} // ends[i]: the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool { // the first n lines fail with msg
		var doc yaml.Node
		err := yaml.Unmarshal(data[:ends[n-1]], &doc)
		m := syntaxLineRE.FindStringSubmatch(fmt.Sprint(err))
		return m != nil && m[2] == msg
	}
	lo, hi := max(line, 1), len(ends)
	if hi < lo || !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// indentOf is how many spaces line (1-based) of data starts with.
func indentOf(data []byte, line int) int {
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return 0
		}
		data = data[j+1:]
	}
	n := 0
	for n < len(data) && data[n] == ' ' {
		n++
	}
	return n
}
