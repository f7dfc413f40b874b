package series

import (
	"slices"
	"testing"
	"unsafe"
)

func TestText(t *testing.T) {
	t.Parallel()
	names := NewNames([]string{"target", "kind", "address", "zone", "app"})
	l := New(names, []string{"web", "readiness", "10.0.0.1:80", "a\"b", "x\ny\\"})
	if want := `address="10.0.0.1:80",app="x\ny\\",kind="readiness",target="web",zone="a\"b"`; l.Text() != want {
		t.Errorf("text %s\nwant %s", l.Text(), want)
	}
	if got := l.Text()[:l.ResultAt()]; got != `address="10.0.0.1:80",app="x\ny\\",kind="readiness",` {
		t.Errorf("result goes after %q", got)
	}
	if l.Address() != "10.0.0.1:80" || !l.Equal(New(names, []string{"web", "readiness", "10.0.0.1:80", "a\"b", "x\ny\\"})) {
		t.Error("address or equality")
	}
	last := New(NewNames([]string{"target", "kind", "address"}), []string{"t", "k", "a"})
	if last.ResultAt() != len(`address="a",kind="k",`) {
		t.Errorf("resultAt %d in %s", last.ResultAt(), last.Text())
	}
}

// TestValuesShareText: the values read back as they were given, those the
// text holds unescaped from the text's own bytes, the escaped ones as
// given.
func TestValuesShareText(t *testing.T) {
	t.Parallel()
	names := NewNames([]string{"target", "kind", "address", "zone", "app", "empty"})
	in := []string{"web", "readiness", "10.0.0.1:80", "a\"b", "x\ny\\", ""}
	l := New(names, slices.Clone(in))
	if !slices.Equal(l.Values, in) {
		t.Fatalf("values %q, want %q", l.Values, in)
	}
	text := l.Text()
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	inText := func(v string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return p >= lo && p+uintptr(len(v)) <= lo+uintptr(len(text))
	}
	for i, v := range l.Values {
		escaped := i == 3 || i == 4
		if v != "" && inText(v) == escaped {
			t.Errorf("value %d (%q): in the text %v, want %v", i, v, inText(v), !escaped)
		}
	}
}
