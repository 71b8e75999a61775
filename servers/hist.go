package servers

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/stats"
)

// Histogram records durations from 1 µs to 1 h with 3 significant digits. It is
// safe for concurrent use. Longer durations are recorded as 1 h and counted
// (stats.HistSummary.Clamped): a loop stalled for minutes must not read as
// one of 60 s without a word.
type Histogram struct {
	mu      sync.Mutex // guards h and clamped
	h       *hdrhistogram.Histogram
	clamped int64
}

// HistogramMax is the longest duration a Histogram holds.
const HistogramMax = time.Hour

// NewHistogram returns an empty Histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(1, int64(HistogramMax/time.Microsecond), 3)}
}

// Record adds one duration (clamped to the histogram's range, and counted
// when above it).
func (h *Histogram) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	h.mu.Lock()
	if us < 1 {
		us = 1
	} else if us > h.h.HighestTrackableValue() {
		us = h.h.HighestTrackableValue()
		h.clamped++
	}
	_ = h.h.RecordValue(us) // in range by construction
	h.mu.Unlock()
}

// Merge adds every value of other.
func (h *Histogram) Merge(other *hdrhistogram.Histogram) {
	h.mu.Lock()
	h.h.Merge(other)
	h.mu.Unlock()
}

// Summary returns the histogram's figures and its exact encoding.
func (h *Histogram) Summary() stats.HistSummary {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := stats.Summarize(h.h)
	s.Clamped = h.clamped
	return s
}
