package series

import "testing"

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
