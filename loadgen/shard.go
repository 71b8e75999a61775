package loadgen

import (
	"fmt"
	"math"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/result"
)

// Shard is one of Count generators that share one cell's schedule: shard
// Index (0-based) offers Rate/Count, its ticks offset by Index/Rate from the
// others', so that together the shards send the plan's constant-rate
// arrivals — tick k of the whole schedule, due at (k+½)/Rate, is tick k/Count
// of shard k mod Count. Each shard keeps its own intended times, so each is
// corrected for coordinated omission on its own and their histograms add up.
type Shard struct {
	Index, Count int
}

// Validate checks that s names one shard of at least one.
func (s Shard) Validate() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 ≤ index < count", s.Index, s.Count)
	}
	return nil
}

// Apply turns cfg, an attack at the whole cell's rate, into this shard's
// attack: its share of the rate and its phase. The pool and the request bound
// are left to the caller.
func (s Shard) Apply(cfg *Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if !(cfg.Rate > 0) || cfg.Rate > maxRate {
		return fmt.Errorf("loadgen: rate %g req/s: want > 0 and ≤ %g", cfg.Rate, float64(maxRate))
	}
	total := cfg.Rate
	cfg.Rate = total / float64(s.Count)
	cfg.Phase = ShardPhase(total, s.Index)
	return nil
}

// ShardPhase is when the first tick of shard i of a schedule of totalRate is
// due after its start: (i+½)/totalRate, the due time of the whole schedule's
// tick i.
func ShardPhase(totalRate float64, i int) time.Duration {
	return time.Duration(math.Round((float64(i) + 0.5) * 1e9 / totalRate))
}

// Summary summarizes a histogram of microseconds in milliseconds, with its
// encoding, as loadgen summarizes its own: merged histograms read the same.
func Summary(h *hdr.Histogram) result.Latency { return summary(h) }

// NewHistogram returns an empty histogram of loadgen's geometry.
func NewHistogram() *hdr.Histogram { return newHist() }

// FileSafe maps a class name to the part of the file names loadgen gives it.
func FileSafe(name string) string { return fileSafe(name) }

// WriteHgrm writes h's percentile distribution in milliseconds to path in the
// .hgrm format of loadgen's own files.
func WriteHgrm(path string, h *hdr.Histogram) error {
	var b strings.Builder
	if _, err := h.PercentilesPrint(&b, 5, 1000); err != nil {
		return fmt.Errorf("loadgen: %s: %w", path, err)
	}
	return result.WriteFileAtomic(path, []byte(b.String()))
}
