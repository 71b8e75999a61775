// Package shard splits one cell's load over several generators and merges
// what they measured, exactly.
//
// A shard (concbench attack --shard i/N) is one generator's share of a cell:
// it offers Rate/N with its ticks offset by i/Rate (loadgen.Shard), starts at
// a shared wall-clock time (the start barrier), and writes a normal results
// directory of one cell, with a Shards entry saying which shard it was, when
// it started and how healthy it was. Merge adds the shards' histograms —
// every Latency carries its HdrHistogram (result.Latency.HDR), so the sum is
// exact, not an average of percentiles — sums their counts, and judges the
// merged cell: invalid when any shard was (the reason names the shard), or
// when the shards started further apart than MaxStartSpread.
//
// Where the shards run is the caller's business: N processes on one machine
// (concbench run --generators N), pods of a Kubernetes Indexed Job
// (concbench k8s), or any other hosts with synchronised clocks.
package shard

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/result"
)

// MaxStartSpread bounds how far apart the shards of a cell may start. A
// shard that starts d late shifts all its ticks by d against the others':
// the merged arrivals are then no longer the plan's constant rate. The bound
// is loadgen.MaxDispatchLagP99, the lateness a single generator is allowed.
const MaxStartSpread = loadgen.MaxDispatchLagP99

// Cell turns one shard's attack into the cell of its results directory. cfg
// is the attack as run (the shard's rate and phase), warmup included;
// planned is the start barrier.
func Cell(id string, sh loadgen.Shard, cfg loadgen.Config, res *loadgen.Result, planned time.Time, clock result.Clock) result.Cell {
	c := result.Cell{
		ID:             id,
		Rate:           cfg.Rate,
		DurationSec:    cfg.Duration.Seconds(),
		WarmupSec:      cfg.Warmup.Seconds(),
		MaxConnections: res.MaxConnections,
		SentRPS:        res.SentRPS,
		AchievedRPS:    res.AchievedRPS,
		Requests:       res.Requests,
		OK:             res.OK,
		Errors:         res.Errors,
		Censored:       res.Censored,
		NeverSent:      res.NeverSent,
		Drained:        res.Drained,
		Retries:        res.Retries,
		Clamped:        res.Clamped,
		PoolFull:       res.PoolFull,
		DispatchLag:    res.DispatchLag,
		PeakInFlight:   res.PeakInFlight,
		Classes:        res.Classes,
		Timeline:       res.Timeline,
		Validity:       res.Validity,
		Files:          res.Files,
	}
	if c.Classes == nil {
		c.Classes = []result.Class{}
	}
	if c.Timeline == nil {
		c.Timeline = []result.Second{}
	}
	host, _ := os.Hostname()
	s := result.Shard{
		Index:        sh.Index,
		Count:        sh.Count,
		Host:         host,
		OfferedRPS:   cfg.Rate,
		PlannedStart: planned.UTC(),
		Clock:        clock,
		Requests:     res.Requests,
		Missed:       res.NeverSent,
		Validity:     res.Validity,
		WindowStart:  res.Window.Start.UTC(),
		WindowEnd:    res.Window.End.UTC(),
		Generator:    res.Health(),
	}
	if !res.Window.Start.IsZero() {
		c.MeasuredSec = math.Round(res.Window.End.Sub(res.Window.Start).Seconds()*1000) / 1000
		began := res.Window.Start.Add(-cfg.Warmup)
		s.Start = began.UTC()
		s.LateMs = ms(began.Sub(planned))
	}
	c.Shards = []result.Shard{s}
	return c
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Result turns a merged cell back into the generator's result, for the
// orchestrator (package runner) that judges the server around it. Window is
// the union of the shards' windows.
func Result(c result.Cell) *loadgen.Result {
	res := &loadgen.Result{
		Classes:        c.Classes,
		Timeline:       c.Timeline,
		OfferedRPS:     c.Rate,
		SentRPS:        c.SentRPS,
		AchievedRPS:    c.AchievedRPS,
		Requests:       c.Requests,
		OK:             c.OK,
		Errors:         c.Errors,
		DispatchLag:    c.DispatchLag,
		PeakInFlight:   c.PeakInFlight,
		Validity:       c.Validity,
		Files:          c.Files,
		MaxConnections: c.MaxConnections,
		StoppedBy:      "duration",
		Censored:       c.Censored,
		Drained:        c.Drained,
		Retries:        c.Retries,
		Clamped:        c.Clamped,
	}
	for _, s := range c.Shards {
		res.NeverSent += s.Missed
		res.Generator.ExhaustionErrors += s.Generator.ExhaustionErrors
		res.PoolFull = max(res.PoolFull, s.Generator.PoolFull)
		if w := s.WindowStart; !w.IsZero() && (res.Window.Start.IsZero() || w.Before(res.Window.Start)) {
			res.Window.Start = w
		}
		if w := s.WindowEnd; w.After(res.Window.End) {
			res.Window.End = w
		}
	}
	return res
}

// Name is "i/N", as --shard reads it.
func Name(s result.Shard) string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }
