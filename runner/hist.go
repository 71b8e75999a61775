package runner

import (
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/concbench/concbench/stats"
)

// subtract returns the histogram of what end recorded after start: end and
// start are two readings of one cumulative histogram, so the difference of
// their counts is exactly the window's histogram. When they are not — end
// holds fewer values than start, or fewer in some bucket: the histogram was
// reset in between (a restarted process) or the readings are of different
// processes — there is no such histogram, and subtract returns an error.
func subtract(end, start stats.HistSummary) (stats.HistSummary, error) {
	he, err := end.Decode()
	if err != nil {
		return stats.HistSummary{}, fmt.Errorf("decode histogram: %w", err)
	}
	if start.HDR == "" || start.Count == 0 {
		out := stats.Summarize(he)
		out.Clamped = end.Clamped
		return out, nil
	}
	hs, err := start.Decode()
	if err != nil {
		return stats.HistSummary{}, fmt.Errorf("decode histogram: %w", err)
	}
	se, ss := he.Export(), hs.Export()
	if se.LowestTrackableValue != ss.LowestTrackableValue || se.HighestTrackableValue != ss.HighestTrackableValue ||
		se.SignificantFigures != ss.SignificantFigures {
		return stats.HistSummary{}, fmt.Errorf("histograms of different ranges")
	}
	if te, ts := he.TotalCount(), hs.TotalCount(); te < ts {
		return stats.HistSummary{}, fmt.Errorf("the end reading holds %d values, fewer than the %d of the start one (was the histogram reset?)", te, ts)
	}
	for i, n := range ss.Counts {
		var e int64
		if i < len(se.Counts) {
			e = se.Counts[i]
		}
		if e < n {
			return stats.HistSummary{}, fmt.Errorf("a bucket of the end reading holds %d values, fewer than the %d of the start one (was the histogram reset?)", e, n)
		}
	}
	for i := range se.Counts {
		if i < len(ss.Counts) {
			se.Counts[i] -= ss.Counts[i]
		}
	}
	out := stats.Summarize(hdrhistogram.Import(se))
	out.Clamped = max(end.Clamped-start.Clamped, 0)
	return out, nil
}

// narrow returns end with its loop-delay and queue-wait histograms and its
// runtime figures (and those of each cluster child found in start by pid)
// narrowed to what was recorded after start. A histogram that cannot be
// narrowed is kept whole and noted.
func narrow(end, start *stats.Snapshot) (stats.Snapshot, []string) {
	out := *end
	if start == nil {
		return out, []string{"no /stats reading before the window: loop delay, queue wait and runtime figures cover the server's whole life"}
	}
	var notes []string
	narrowHist := func(what string, e **stats.HistSummary, s *stats.HistSummary) {
		if *e == nil || s == nil {
			return
		}
		d, err := subtract(**e, *s)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s not narrowed to the window: %v", what, err))
			return
		}
		*e = &d
	}
	narrowHist("loop delay", &out.LoopDelay, start.LoopDelay)
	if end.Runtime != nil {
		rt := end.Runtime.Sub(start.Runtime)
		out.Runtime = &rt
	}
	if end.Pool != nil && start.Pool != nil {
		pool := *end.Pool
		qw := &pool.QueueWait
		narrowHist("queue wait", &qw, &start.Pool.QueueWait)
		pool.QueueWait = *qw
		out.Pool = &pool
	}
	if len(end.Procs) > 0 {
		out.Procs = make([]stats.Snapshot, len(end.Procs))
		for i := range end.Procs {
			var match *stats.Snapshot
			for j := range start.Procs {
				if len(end.Procs[i].PIDs) > 0 && len(start.Procs[j].PIDs) > 0 && start.Procs[j].PIDs[0] == end.Procs[i].PIDs[0] {
					match = &start.Procs[j]
				}
			}
			if match == nil {
				// A child born during the window: all it recorded is in the window.
				out.Procs[i] = end.Procs[i]
				continue
			}
			child, n := narrow(&end.Procs[i], match)
			out.Procs[i] = child
			notes = append(notes, n...)
		}
	}
	return out, notes
}
