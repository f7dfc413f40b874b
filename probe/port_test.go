package probe

import "testing"

func TestPortNameErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"http", true},
		{"metrics-9090", true},
		{"a", true},
		{"Http", false},
		{"1234", false},
		{"-http", false},
		{"http-", false},
		{"ht--tp", false},
		{"abcdefghijklmnop", false}, // 16 characters
		{"", false},
	} {
		if got := len(PortNameErrors(tc.name)) == 0; got != tc.ok {
			t.Errorf("%q: valid=%v, want %v (%v)", tc.name, got, tc.ok, PortNameErrors(tc.name))
		}
	}
}
