package result

import (
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Summarize summarizes a histogram of microseconds in milliseconds, with its
// encoding (Latency.HDR), as the load generator does: a pooled histogram
// reads the same as one measured at once. It leaves Censored to the caller.
func Summarize(h *hdr.Histogram) Latency {
	n := h.TotalCount()
	if n == 0 {
		return Latency{}
	}
	r3 := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	q := func(p float64) float64 { return r3(float64(h.ValueAtQuantile(p)) / 1000) }
	enc, _ := h.Encode(hdr.V2CompressedEncodingCookieBase) // only a compressor error, never seen with in-memory buffers
	return Latency{
		Count:  n,
		Mean:   r3(h.Mean() / 1000),
		P50:    q(50),
		P90:    q(90),
		P99:    q(99),
		P999:   q(99.9),
		P9999:  q(99.99),
		Max:    r3(float64(h.Max()) / 1000),
		StdDev: r3(h.StdDev() / 1000),
		HDR:    string(enc),
	}
}

// Pool merges distributions measured apart — the repetitions of a cell —
// into one, exactly: their HdrHistograms are added, so the pooled p99 is the
// p99 of every value, not a median of p99s, and the pooled max is the
// largest value. Censored values add up (the least of them stays the least).
// ok is false when a distribution with values has no histogram (a file
// written before Latency.HDR) or one that does not decode.
func Pool(ls []Latency) (pooled Latency, ok bool) {
	var sum *hdr.Histogram
	var censored int64
	censoredMin := math.Inf(1)
	for _, l := range ls {
		if l.Count == 0 {
			continue
		}
		if l.HDR == "" {
			return Latency{}, false
		}
		h, err := hdr.Decode([]byte(l.HDR))
		if err != nil {
			return Latency{}, false
		}
		if sum == nil {
			sum = h
		} else if dropped := sum.Merge(h); dropped > 0 {
			return Latency{}, false
		}
		if l.Censored > 0 {
			censored += l.Censored
			censoredMin = min(censoredMin, l.CensoredMin)
		}
	}
	if sum == nil {
		return Latency{}, true
	}
	pooled = Summarize(sum)
	if censored > 0 {
		pooled.Censored, pooled.CensoredMin = censored, censoredMin
	}
	return pooled, true
}
