package servers

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/stats"
)

// Histogram records durations from 1 µs to 60 s with 3 significant digits. It is
// safe for concurrent use.
type Histogram struct {
	mu sync.Mutex // guards h
	h  *hdrhistogram.Histogram
}

// NewHistogram returns an empty Histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)}
}

// Record adds one duration (clamped to the histogram's range).
func (h *Histogram) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	h.mu.Lock()
	if us < 1 {
		us = 1
	} else if us > h.h.HighestTrackableValue() {
		us = h.h.HighestTrackableValue()
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
	return stats.Summarize(h.h)
}
