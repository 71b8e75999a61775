package workloads

import (
	"context"
	"time"
)

// Calibration is the cost of one unit of work on this machine.
type Calibration struct {
	// ItersPerMs is how many /cpu rounds take one millisecond.
	ItersPerMs float64
	// Regex holds the time of one match per n and engine.
	Regex []RegexTiming
}

// RegexTiming is one measured match.
type RegexTiming struct {
	N         int
	Backtrack time.Duration
	RE2       time.Duration
}

// Calibrate measures the hash rate for about budget and one backtracking match
// for each n in ns (each doubling the last; it stops early once a match takes
// longer than maxMatch, so a slow machine does not hang). The caller's goroutine
// does the work; ctx cancels between measurements.
func Calibrate(ctx context.Context, budget time.Duration, ns []int, maxMatch time.Duration) (Calibration, error) {
	var c Calibration
	iters, start := 0, time.Now()
	h := NewHasher(1 << 62)
	for time.Since(start) < budget {
		h.Step(1000)
		iters += 1000
		if err := ctx.Err(); err != nil {
			return c, err
		}
	}
	c.ItersPerMs = float64(iters) / (float64(time.Since(start)) / float64(time.Millisecond))
	for _, n := range ns {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		t := RegexTiming{N: n, Backtrack: timeMatch(EngineBacktrack, n), RE2: timeMatch(EngineRE2, n)}
		c.Regex = append(c.Regex, t)
		if t.Backtrack > maxMatch {
			break
		}
	}
	return c, nil
}

// timeMatch returns the fastest of a few matches (one, once a match is slow),
// the figure least disturbed by the rest of the machine.
func timeMatch(e Engine, n int) time.Duration {
	best := time.Duration(1<<63 - 1)
	for i := 0; i < 5; i++ {
		start := time.Now()
		_, _ = MatchRegex(e, n, 0)
		d := time.Since(start)
		best = min(best, d)
		if d > 50*time.Millisecond {
			break
		}
	}
	return best
}
