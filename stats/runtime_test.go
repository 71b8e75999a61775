package stats

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestRuntimeHist(t *testing.T) {
	check := func(name string, h RuntimeHist, count int64, p50, p99, max float64) {
		t.Helper()
		if h.Count != count || h.P50Us != p50 || h.P99Us != p99 || h.MaxUs != max {
			t.Errorf("%s = count %d p50 %g p99 %g max %g; want %d %g %g %g", name, h.Count, h.P50Us, h.P99Us, h.MaxUs, count, p50, p99, max)
		}
	}
	start := NewRuntimeHist([]RuntimeBucket{{LeUs: 2, N: 40}, {LeUs: 1, N: 10}})
	check("start", start, 50, 2, 2, 2)
	end := NewRuntimeHist([]RuntimeBucket{{LeUs: 1, N: 10}, {LeUs: 2, N: 138}, {LeUs: 1000, N: 2}, {LeUs: 8, N: 0}})
	check("end", end, 150, 2, 1000, 1000)
	win := end.Sub(start)
	check("end.Sub(start)", win, 100, 2, 1000, 1000)
	if want := []RuntimeBucket{{2, 98}, {1000, 2}}; !slices.Equal(win.Buckets, want) {
		t.Errorf("window buckets %v; want %v", win.Buckets, want)
	}
	check("end.Sub(end)", end.Sub(end), 0, 0, 0, 0)
	m := MergeRuntimeHists(start, win, RuntimeHist{})
	check("merge", m, 150, 2, 1000, 1000)
	if !slices.Equal(m.Buckets, end.Buckets) {
		t.Errorf("start + window = %v; want the end reading %v", m.Buckets, end.Buckets)
	}
	// Through JSON, as the orchestrator reads /stats.
	var back RuntimeHist
	b, _ := json.Marshal(end)
	if err := json.Unmarshal(b, &back); err != nil || back.Sub(start).Count != 100 {
		t.Errorf("end through JSON: %v; window count %d, want 100", err, back.Sub(start).Count)
	}
}
