package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/result"
)

// soakTimeline is a timeline of n seconds whose generator figures are
// heap(T) and rss(T).
func soakTimeline(n int, heap, rss func(int) int64) []result.Second {
	tl := make([]result.Second, n)
	for i := range tl {
		tl[i] = result.Second{T: i, GeneratorHeapBytes: heap(i), GeneratorRSSBytes: rss(i)}
	}
	return tl
}

func TestSoakReading(t *testing.T) {
	// A GC-like sawtooth: the median over 10 s ignores the peaks.
	saw := func(i int) int64 {
		if i%5 == 4 {
			return 9 << 20
		}
		return 2 << 20
	}
	tl := soakTimeline(120, saw, func(i int) int64 { return int64(100 + i) })
	tests := []struct {
		at        time.Duration
		heap, rss int64
		ok        bool
	}{
		{time.Minute, 2 << 20, 155, true},     // seconds 50..59
		{2 * time.Minute, 2 << 20, 215, true}, // 110..119
		{3 * time.Second, 2 << 20, 101, true}, // 0..2: fewer at the start
		{0, 0, 0, false},
	}
	for _, tt := range tests {
		p, ok := soakReading(tl, tt.at)
		if ok != tt.ok || p.heap != tt.heap || p.rss != tt.rss {
			t.Errorf("soakReading(%s) = (%+v, %t); want heap %d rss %d, %t", tt.at, p, ok, tt.heap, tt.rss, tt.ok)
		}
	}
	for _, tt := range []struct{ dur, want time.Duration }{
		{10 * time.Minute, time.Minute}, {2 * time.Minute, time.Minute}, {90 * time.Second, 45 * time.Second}, {25 * time.Second, 12 * time.Second},
	} {
		if got := soakRefAt(tt.dur); got != tt.want {
			t.Errorf("soakRefAt(%s) = %s; want %s", tt.dur, got, tt.want)
		}
	}
}

// TestPrintSoak: flat memory passes; memory that grows past the limit from
// the one-minute reading to the end fails, whichever figure grows.
func TestPrintSoak(t *testing.T) {
	flat := func(int) int64 { return 30 << 20 }
	tests := []struct {
		name      string
		heap, rss func(int) int64
		fail      bool
	}{
		{"flat", flat, flat, false},
		{"heap leaks", func(i int) int64 { return int64(2<<20 + i*4096) }, flat, true}, // ×1.99 from 1 to 10 min
		{"rss leaks", flat, func(i int) int64 { return int64(26<<20 + i*24000) }, true},
		{"slow growth within the limit", func(i int) int64 { return int64(2<<20 + i*300) }, flat, false}, // ×1.07
	}
	for _, tt := range tests {
		c := result.Cell{ID: "goroutine.plain.r5000.1", Model: "goroutine", Rate: 5000, DurationSec: 600,
			Timeline: soakTimeline(600, tt.heap, tt.rss)}
		var out strings.Builder
		err := printSoak(&out, "results/x", c, 1.2)
		if (err != nil) != tt.fail {
			t.Errorf("%s: printSoak = %v; want failure %t\n%s", tt.name, err, tt.fail, out.String())
		}
		if lines := strings.Count(out.String(), "s  heap "); lines != 10 {
			t.Errorf("%s: %d per-minute lines; want 10\n%s", tt.name, lines, out.String())
		}
	}
	if err := printSoak(&strings.Builder{}, "", result.Cell{DurationSec: 600}, 1.2); err == nil {
		t.Error("printSoak of a cell without readings succeeded; want an error")
	}
}
