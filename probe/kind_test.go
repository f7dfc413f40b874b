package probe

import "testing"

func TestParseKind(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Readiness, Liveness, Startup} {
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("%v: %v %v", k, got, err)
		}
	}
	if _, err := ParseKind("other"); err == nil {
		t.Error("ParseKind(other): no error")
	}
}
