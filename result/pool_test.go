package result

import (
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestPool: pooling distributions adds their histograms — the pooled
// figures are those of one histogram holding every value — and their
// censored values; a distribution without a histogram cannot be pooled.
func TestPool(t *testing.T) {
	all := hdr.New(1, 3_600_000_000, 3)
	var ls []Latency
	for i, vs := range [][]int64{{1000, 2000, 3000}, {1500, 900_000}, {}} {
		h := hdr.New(1, 3_600_000_000, 3)
		for _, v := range vs {
			_ = h.RecordValue(v)
			_ = all.RecordValue(v)
		}
		l := Summarize(h)
		if i == 1 {
			l.Censored, l.CensoredMin = 1, 900
		}
		ls = append(ls, l)
	}
	got, ok := Pool(ls)
	want := Summarize(all)
	want.Censored, want.CensoredMin = 1, 900
	if !ok || got != want {
		t.Errorf("Pool = %+v, %t; want %+v", got, ok, want)
	}
	ls[0].HDR = ""
	if _, ok := Pool(ls); ok {
		t.Errorf("Pool of a distribution without its histogram: ok; want not ok")
	}
}
