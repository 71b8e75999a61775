package servers

import (
	"math"
	"runtime/metrics"

	"github.com/concbench/concbench/stats"
)

// The runtime/metrics read by ReadRuntime.
const (
	MetricSchedLatency = "/sched/latencies:seconds"
	MetricGCPauses     = "/sched/pauses/total/gc:seconds"
	MetricGCCycles     = "/gc/cycles/total:gc-cycles"
)

// ReadRuntime reads this process's runtime figures. It is cheap (a few µs,
// no histogram encoding) and safe for concurrent use.
func ReadRuntime() *stats.RuntimeStats {
	sample := []metrics.Sample{{Name: MetricSchedLatency}, {Name: MetricGCPauses}, {Name: MetricGCCycles}}
	metrics.Read(sample)
	out := &stats.RuntimeStats{SchedLatency: fromMetric(sample[0].Value), GCPauses: fromMetric(sample[1].Value)}
	if sample[2].Value.Kind() == metrics.KindUint64 {
		out.GCCycles = sample[2].Value.Uint64()
	}
	return out
}

func fromMetric(v metrics.Value) stats.RuntimeHist {
	if v.Kind() != metrics.KindFloat64Histogram {
		return stats.RuntimeHist{}
	}
	h := v.Float64Histogram()
	var bs []stats.RuntimeBucket
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		le := h.Buckets[i+1]
		if math.IsInf(le, 1) { // the overflow bucket: its lower bound is all we know
			le = h.Buckets[i]
		}
		bs = append(bs, stats.RuntimeBucket{LeUs: max(le, 0) * 1e6, N: n})
	}
	return stats.NewRuntimeHist(bs)
}
