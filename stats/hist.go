package stats

import hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

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
	// Clamped counts values above the histogram's range, recorded as its
	// highest value.
	Clamped int64 `json:"clamped,omitempty"`
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
