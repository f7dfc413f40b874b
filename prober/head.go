package prober

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"golang.org/x/net/http/httpguts"
)

// A response head of up to 10 MiB (maxResponseHeaderBytes) parsed by
// http.ReadResponse becomes a header map of up to ~8x that: a million
// one-line fields is ~80 MB of map entries and strings per attempt, for
// headers a probe never reads. compactHead keeps the rules and drops the
// cost: it streams a head that doesn't fit the read buffer and hands
// http.ReadResponse the same bytes without the well-formed fields nothing
// reads, so every rule (and every error text) is still net/http's own,
// and what is held is one field at a time plus the fields kept.

// keptFields are the response fields that http.ReadResponse, the
// transport and http.Client read: framing, connection handling, trailer
// declarations and redirects.
var keptFields = [][]byte{
	[]byte("Content-Length"), []byte("Transfer-Encoding"), []byte("Connection"),
	[]byte("Trailer"), []byte("Location"), []byte("Upgrade"),
}

// headInBuffer says whether br already holds the whole of the next
// response head: then http.ReadResponse parses it from br directly.
func headInBuffer(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// compactHead reads the next response head from br and returns the same
// head, less the fields it may drop; br is left after it. It reads no
// further than the head, and stops dropping (passing the rest through) at
// anything unusual, which http.ReadResponse then judges. A read error
// ends the head: it returns what came before it and that same error,
// which is what a reader of the head must meet next, as br's would have.
func compactHead(br *bufio.Reader) ([]byte, error) {
	var kept, field []byte
	failed := func(err error) ([]byte, error) { return kept, err }

	// The status line, as it is.
	line, err := readRawLine(br, nil)
	kept = append(kept, line...)
	if err != nil {
		return failed(err)
	}
	for {
		var streamed bool
		field, streamed, err = readFirstLine(br, field[:0])
		if streamed && err == nil {
			// A long well-formed field nothing reads, dropped as it came;
			// what follows it may still be its continuation lines.
			if !dropContinuation(br) {
				// Something in them is wrong: what textproto would quote
				// starts with the first line's prefix, which was kept.
				field = append(field, '\r', '\n')
				for {
					p, _ := br.Peek(1)
					if len(p) == 0 || (p[0] != ' ' && p[0] != '\t') {
						break
					}
					if field, err = readRawLine(br, field); err != nil {
						break
					}
				}
				kept = append(kept, field...)
				if err != nil {
					return failed(err)
				}
			}
			continue
		}
		if err != nil {
			// A first line cut off by the error: textproto still judges
			// it (bufio.ReadLine returns it without the error) and then
			// meets the error, so a well-formed one changes nothing.
			if !droppable(field, nil) {
				kept = append(kept, field...)
			}
			return failed(err)
		}
		if isBlankLine(field) || field[0] == ' ' || field[0] == '\t' {
			// The end of the head, or a head that starts with a
			// continuation line (an error of its own): as it is.
			kept = append(kept, field...)
			return kept, nil
		}
		first := len(field)
		for {
			// Continuation lines (obsolete line folding) belong to it.
			p, _ := br.Peek(1)
			if len(p) == 0 || (p[0] != ' ' && p[0] != '\t') {
				break
			}
			if field, err = readRawLine(br, field); err != nil {
				kept = append(kept, field...)
				return failed(err)
			}
		}
		if !droppable(field[:first], field[first:]) {
			kept = append(kept, field...)
		}
	}
}

// streamAfter is how much of a field's first line is held before a
// well-formed line that nothing reads is dropped as it streams past: the
// 10 MiB of one long field then cost a read buffer, not 10 MiB twice.
// Should such a line turn out malformed further on, the line handed on is
// this prefix and what follows the fault: the error's quote of it is the
// same in its first 64 KiB, far more than the 256 bytes of it that are
// kept and logged.
const streamAfter = 64 << 10

// readFirstLine reads a field's first line like readRawLine, except that
// past streamAfter a line that is droppable so far is read to its end
// without being held: then streamed is true and buf is that prefix, its
// terminator left off. If a fault turns up, streamed is false and buf is
// the prefix and the line from the fault on.
func readFirstLine(br *bufio.Reader, buf []byte) (_ []byte, streamed bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, false, err
		}
		// (A chunk that ends in CR is judged with the next: droppable
		// would take that CR for the line's end.)
		if len(buf) >= streamAfter && !bytes.HasSuffix(buf, []byte("\r")) && droppable(buf, nil) {
			break
		}
	}
	for {
		chunk, err := br.ReadSlice('\n')
		value := chunk
		switch {
		case err == nil:
			value = trimEOL(chunk)
		case errors.Is(err, bufio.ErrBufferFull) && bytes.HasSuffix(chunk, []byte("\r")):
			// A CR at the chunk's end ends the line only if LF follows.
			// Peek refills the buffer chunk points into: copy it first.
			chunk = bytes.Clone(chunk)
			value = chunk
			if next, _ := br.Peek(1); len(next) == 1 && next[0] == '\n' {
				value = chunk[:len(chunk)-1]
			}
		}
		if len(chunk) > 0 && !validValue(value) {
			// A fault: keep the prefix and the line from here on.
			buf = append(buf, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				buf, err = readRawLine(br, buf)
			}
			return buf, false, err
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			// Its end, or a read error (what came before it changes
			// nothing, as for a cut-off first line). buf keeps the
			// prefix, should its continuation lines turn out faulty.
			return trimEOL(buf), true, err
		}
	}
}

// dropContinuation reads the continuation lines of a field that was
// dropped as it streamed, as long as they are well-formed; it reports
// false, having read nothing of it, at the first that is not.
func dropContinuation(br *bufio.Reader) bool {
	for {
		p, _ := br.Peek(1)
		if len(p) == 0 || (p[0] != ' ' && p[0] != '\t') {
			return true
		}
		// Within the buffer: judge it before consuming it.
		line, err := br.Peek(br.Buffered())
		if i := bytes.IndexByte(line, '\n'); i >= 0 && err == nil {
			if !validValue(trimEOL(line[:i+1])) {
				return false
			}
			_, _ = br.Discard(i + 1)
			continue
		}
		// Longer than the buffer: not worth a rule of its own.
		return false
	}
}

// replayReader is the one source a response's single bufio.Reader reads
// from: bytes to replay first (a compacted head and what the reader had
// buffered after it), then an error if the head ended in one, else the
// connection. A head compacted replaces what it was read from instead of
// wrapping it, so any number of 1xx heads cost one buffer, not one each.
type replayReader struct {
	pending []byte
	err     error
	r       io.Reader
}

func (s *replayReader) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	return s.r.Read(p)
}

// compact replaces the next head in br (which reads from s) by its
// compacted form: br then reads the head, what it had buffered after the
// head, and the rest of s, as before.
func (s *replayReader) compact(br *bufio.Reader) {
	head, err := compactHead(br)
	if err != nil {
		s.pending, s.err = head, err // as br would have: nothing after the error
	} else {
		rest, _ := br.Peek(br.Buffered())
		s.pending = append(append(head, rest...), s.pending...)
	}
	br.Reset(s)
}

// droppable says whether a field (its first line and its continuation
// lines, terminators included) is well-formed by textproto's rules and
// not one that anything reads.
func droppable(first, cont []byte) bool {
	name, value, ok := bytes.Cut(trimEOL(first), []byte(":"))
	if !ok || len(name) == 0 || !httpguts.ValidHeaderFieldName(string(name)) {
		return false
	}
	for _, k := range keptFields {
		if bytes.EqualFold(name, k) {
			return false
		}
	}
	if !validValue(value) {
		return false
	}
	for len(cont) > 0 {
		var l []byte
		l, cont, _ = bytes.Cut(cont, []byte("\n"))
		if !validValue(trimEOL(append(l, '\n'))) {
			return false
		}
	}
	return true
}

// validValue is textproto's validHeaderValueByte over v: visible ASCII,
// space, tab and obs-text.
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func trimEOL(l []byte) []byte {
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r"))
}

func isBlankLine(l []byte) bool {
	return len(trimEOL(l)) == 0 && bytes.HasSuffix(l, []byte("\n"))
}

// readRawLine appends the next line of br, its terminator included, to
// buf.
func readRawLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}
