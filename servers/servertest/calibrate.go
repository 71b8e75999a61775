package servertest

import (
	"context"
	"sync"
	"time"

	"github.com/concbench/concbench/workloads"
)

var calibration struct {
	once       sync.Once
	itersPerMs float64
}

// ItersFor returns the /cpu iterations that take about d on this machine when
// it is not busy: the best of a few short workloads.Calibrate runs, since the
// machine may be shared. A test that needs a request to be long uses it; it
// must not rely on the request taking exactly d.
func ItersFor(d time.Duration) int {
	calibration.once.Do(func() {
		for range 8 {
			c, err := workloads.Calibrate(context.Background(), 5*time.Millisecond, nil, 0)
			if err == nil {
				calibration.itersPerMs = max(calibration.itersPerMs, c.ItersPerMs)
			}
		}
	})
	return min(max(int(calibration.itersPerMs*float64(d/time.Millisecond)), 1), workloads.MaxIters)
}

var regexCalibration struct {
	once sync.Once
	n    int
}

// RegexNFor returns the n whose backtracking /regex takes at least about d
// here: each extra character doubles the time, so it times growing n until a
// match takes d/4 and adds two. The first call fixes n for the test binary.
func RegexNFor(d time.Duration) int {
	regexCalibration.once.Do(func() {
		n := 10
		for ; n < workloads.MaxUnboundedBacktrackN-2; n++ {
			start := time.Now()
			_, _ = workloads.MatchRegex(workloads.EngineBacktrack, n, 0)
			if time.Since(start) >= d/4 {
				break
			}
		}
		regexCalibration.n = n + 2
	})
	return regexCalibration.n
}
