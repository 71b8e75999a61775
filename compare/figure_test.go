package compare

import (
	"testing"

	"github.com/concbench/concbench/result"
)

// TestClassValueTooFew: a percentile read from fewer than 10/(1−q) values,
// or only a lower bound, is not compared.
func TestClassValueTooFew(t *testing.T) {
	l := result.Latency{Count: 500, P50: 1, P99: 5, P999: 9}
	lower := l
	lower.Count, lower.Censored, lower.CensoredMin = 20000, 30, 4
	for _, tc := range []struct {
		l      result.Latency
		f      Figure
		wantOK bool
	}{
		{l, P50, true},
		{l, P99, false},  // needs 10/(1−0.99) = 1000 values
		{l, P999, false}, // needs 10 000
		{lower, P50, true},
		{lower, P99, false}, // 5 ≥ 4, the least censored value
	} {
		_, ok := tc.f.classValue(&result.Class{Response: tc.l})
		if ok != tc.wantOK {
			t.Errorf("%v.classValue(n=%d, censored %d) ok = %t; want %t", tc.f, tc.l.Count, tc.l.Censored, ok, tc.wantOK)
		}
	}
}
