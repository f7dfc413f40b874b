package collector

import (
	"math"
	"strconv"
	"testing"
)

// TestAppendFloatMatchesG: the integer shortcut writes exactly what
// strconv's shortest 'g' (expfmt's text format) writes, around its
// switch to an exponent at 1e6, for negative zero and for fractions.
func TestAppendFloatMatchesG(t *testing.T) {
	t.Parallel()
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 42, 999999, -999999, 1e6, 1e6 - 0.5, 123456.5, 0.001, 1e-5, 2e9, 1.5, -3.25, 1765000000.123}
	for i := 0; i < 1000; i++ {
		vals = append(vals, float64(i*997), -float64(i*1003))
	}
	for _, v := range vals {
		want := strconv.FormatFloat(v, 'g', -1, 64)
		if got := string(appendFloat(nil, v, false)); got != want {
			t.Errorf("%v: got %q want %q", v, got, want)
		}
	}
}
