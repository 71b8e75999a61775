package servers

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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
func (h *Histogram) Summary() HistSummary {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Summarize(h.h)
}

// HistSummary is a histogram as /stats reports it. Values are microseconds.
type HistSummary struct {
	Count  int64   `json:"count"`
	MeanUs float64 `json:"mean_us"`
	P50Us  int64   `json:"p50_us"`
	P99Us  int64   `json:"p99_us"`
	MaxUs  int64   `json:"max_us"`
	// HDR is the whole histogram in HdrHistogram's compressed base64 encoding, so a
	// reader can subtract two snapshots or merge processes exactly.
	HDR string `json:"hdr"`
}

// Summarize renders h.
func Summarize(h *hdrhistogram.Histogram) HistSummary {
	enc, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase) // only fails on a broken writer
	return HistSummary{
		Count:  h.TotalCount(),
		MeanUs: h.Mean(),
		P50Us:  h.ValueAtQuantile(50),
		P99Us:  h.ValueAtQuantile(99),
		MaxUs:  h.Max(),
		HDR:    string(enc),
	}
}

// Decode returns the histogram of s.
func (s HistSummary) Decode() (*hdrhistogram.Histogram, error) {
	return hdrhistogram.Decode([]byte(s.HDR))
}
