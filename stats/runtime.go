package stats

import (
	"math"
	"slices"
)

// RuntimeStats are the runtime/metrics figures that explain a profile: how long
// runnable goroutines waited for a thread, and how long the GC stopped the
// world. Every figure is cumulative since the process started; a reader
// subtracts two readings for a window (RuntimeStats.Sub). servers.ReadRuntime
// reads them.
type RuntimeStats struct {
	// SchedLatency is /sched/latencies:seconds: the time goroutines spent
	// runnable before they ran.
	SchedLatency RuntimeHist `json:"sched_latency"`
	// GCPauses is /sched/pauses/total/gc:seconds: the GC's stop-the-world
	// pauses (the newer name of the deprecated /gc/pauses:seconds).
	GCPauses RuntimeHist `json:"gc_pauses"`
	// GCCycles is /gc/cycles/total:gc-cycles.
	GCCycles uint64 `json:"gc_cycles"`
}

// RuntimeHist is a runtime/metrics time histogram as /stats reports it:
// summary figures and the non-empty buckets, which make readings of one
// process subtractable and processes mergeable exactly. The runtime's buckets
// are about 25 % wide; every figure is a bucket's upper bound, in µs.
type RuntimeHist struct {
	Count int64   `json:"count"`
	P50Us float64 `json:"p50_us"`
	P99Us float64 `json:"p99_us"`
	MaxUs float64 `json:"max_us"`
	// Buckets are the non-empty buckets by increasing bound.
	Buckets []RuntimeBucket `json:"buckets,omitempty"`
}

// RuntimeBucket counts the values at most LeUs µs (and above the previous bucket's bound).
type RuntimeBucket struct {
	LeUs float64 `json:"le_us"`
	N    uint64  `json:"n"`
}

// NewRuntimeHist returns the histogram of buckets (which it takes over),
// merging buckets of equal bounds and dropping empty ones.
func NewRuntimeHist(buckets []RuntimeBucket) RuntimeHist {
	slices.SortFunc(buckets, func(a, b RuntimeBucket) int {
		switch {
		case a.LeUs < b.LeUs:
			return -1
		case a.LeUs > b.LeUs:
			return 1
		}
		return 0
	})
	var h RuntimeHist
	for _, b := range buckets {
		if b.N == 0 {
			continue
		}
		if n := len(h.Buckets); n > 0 && h.Buckets[n-1].LeUs == b.LeUs {
			h.Buckets[n-1].N += b.N
		} else {
			h.Buckets = append(h.Buckets, b)
		}
		h.Count += int64(b.N)
	}
	if h.Count == 0 {
		return RuntimeHist{}
	}
	h.P50Us, h.P99Us = h.quantile(0.50), h.quantile(0.99)
	h.MaxUs = h.Buckets[len(h.Buckets)-1].LeUs
	return h
}

func (h RuntimeHist) quantile(q float64) float64 {
	rank := uint64(math.Ceil(q * float64(h.Count)))
	var seen uint64
	for _, b := range h.Buckets {
		if seen += b.N; seen >= rank {
			return b.LeUs
		}
	}
	return h.MaxUs
}

// Sub returns what h counted after start, an earlier reading of the same
// process's histogram.
func (h RuntimeHist) Sub(start RuntimeHist) RuntimeHist {
	before := make(map[float64]uint64, len(start.Buckets))
	for _, b := range start.Buckets {
		before[b.LeUs] = b.N
	}
	bs := make([]RuntimeBucket, 0, len(h.Buckets))
	for _, b := range h.Buckets {
		if b.N > before[b.LeUs] {
			bs = append(bs, RuntimeBucket{LeUs: b.LeUs, N: b.N - before[b.LeUs]})
		}
	}
	return NewRuntimeHist(bs)
}

// MergeRuntimeHists adds up histograms, e.g. of several processes.
func MergeRuntimeHists(hs ...RuntimeHist) RuntimeHist {
	var bs []RuntimeBucket
	for _, h := range hs {
		bs = append(bs, h.Buckets...)
	}
	return NewRuntimeHist(bs)
}

// Sub returns what r counted after start, an earlier reading of the same
// process (nil: since the process started).
func (r RuntimeStats) Sub(start *RuntimeStats) RuntimeStats {
	if start == nil {
		return r
	}
	out := RuntimeStats{
		SchedLatency: r.SchedLatency.Sub(start.SchedLatency),
		GCPauses:     r.GCPauses.Sub(start.GCPauses),
	}
	if r.GCCycles > start.GCCycles {
		out.GCCycles = r.GCCycles - start.GCCycles
	}
	return out
}
