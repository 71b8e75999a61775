package servers

import (
	"testing"
	"time"
)

// TestHistogramClamped: durations up to an hour are recorded as they are;
// longer ones as an hour, and counted.
func TestHistogramClamped(t *testing.T) {
	h := NewHistogram()
	h.Record(90 * time.Second) // beyond the old 60 s range
	h.Record(2 * time.Hour)
	s := h.Summary()
	if s.Count != 2 || s.Clamped != 1 {
		t.Errorf("count %d, clamped %d; want 2, 1", s.Count, s.Clamped)
	}
	if s.P50Us < 89_900_000 || s.P50Us > 90_100_000 {
		t.Errorf("p50 %d µs; want 90 s (to 3 significant digits)", s.P50Us)
	}
}
