package servers

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Stats counts what a server did. Every method is safe for concurrent use.
type Stats struct {
	model     string
	start     time.Time
	inFlight  atomic.Int64
	completed [workloads.NumRoutes]atomic.Uint64
	// byClass counts answers by status class: index 2 is 2xx ... 5 is 5xx.
	byClass     [6]atomic.Uint64
	peakThreads atomic.Int64
}

// NewStats returns the counters of one server process of model.
func NewStats(model string) *Stats {
	return &Stats{model: model, start: time.Now()}
}

// Begin marks a request in flight.
func (s *Stats) Begin() { s.inFlight.Add(1) }

// End marks a request answered. route is ignored when the request was refused
// before routing (pass workloads.NumRoutes).
func (s *Stats) End(route workloads.Route, status int) {
	s.inFlight.Add(-1)
	if route < workloads.NumRoutes && status < 400 {
		s.completed[route].Add(1)
	}
	if c := status / 100; c >= 1 && c <= 5 {
		s.byClass[c].Add(1)
	}
}

// WatchThreads samples the OS thread count every interval until ctx is done, so
// that the peak reported by Snapshot is not only the count at the moments
// /stats was read. It reads the count from the runtime (runtime/metrics), not
// from /proc: a read of /proc/self/status every 10 ms cost an idle event-loop
// server about 3 % of a CPU, which the model would be charged for.
func (s *Stats) WatchThreads(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	sample := []metrics.Sample{{Name: metricThreads}}
	for {
		if n, ok := goThreads(sample); ok {
			s.notePeak(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// metricThreads is the runtime's count of live OS threads it owns: in a Go
// program without cgo, every thread of the process.
const metricThreads = "/sched/threads/total:threads"

// goThreads reads metricThreads into sample (one element, reused).
func goThreads(sample []metrics.Sample) (int, bool) {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return int(sample[0].Value.Uint64()), true
}

func (s *Stats) notePeak(n int) {
	for {
		p := s.peakThreads.Load()
		if int64(n) <= p || s.peakThreads.CompareAndSwap(p, int64(n)) {
			return
		}
	}
}

// Snapshot reads the counters and this process's figures.
func (s *Stats) Snapshot() stats.Snapshot {
	rss, threads, _ := procstat.ReadSelf() // zero figures rather than no /stats
	s.notePeak(threads)
	snap := stats.Snapshot{
		Model:            s.model,
		PIDs:             []int{os.Getpid()},
		UptimeSec:        time.Since(s.start).Seconds(),
		InFlight:         s.inFlight.Load(),
		Completed:        make(map[string]uint64, workloads.NumRoutes),
		Responses:        make(map[string]uint64, 4),
		OSThreads:        threads,
		PeakOSThr:        int(s.peakThreads.Load()),
		Goroutines:       runtime.NumGoroutine(),
		RSSBytes:         rss,
		GOMAXPROCS:       runtime.GOMAXPROCS(0),
		GOMAXPROCSReason: ProcsReason(),
		Runtime:          ReadRuntime(),
	}
	for r := workloads.Route(0); r < workloads.NumRoutes; r++ {
		snap.Completed[r.String()] = s.completed[r].Load()
	}
	for c := 2; c <= 5; c++ {
		snap.Responses[string(rune('0'+c))+"xx"] = s.byClass[c].Load()
	}
	return snap
}
