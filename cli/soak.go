package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/runner"
	"github.com/concbench/concbench/units"
)

const soakArgs = "[--model goroutine] [--rate 5000] [--duration 10m] [--max-growth 1.2] [--profile-generator heap] [--out DIR]"

// Soak defaults: the measurement (a steady /plain load long enough
// for a per-request or per-second leak to show).
const (
	soakModel     = "goroutine"
	soakRate      = 5000
	soakDuration  = 10 * time.Minute
	soakMaxGrowth = 1.2
	// soakRef is where the soak's reference reading is taken: after a minute
	// the generator's pools, connections and histograms have reached their
	// working size, so growth from there on is drift.
	soakRef = time.Minute
	// soakSpan is how many seconds of readings each point takes the median
	// of: the live heap moves with every GC cycle, RSS with the scavenger.
	soakSpan = 10
)

// cmdSoak runs one long /plain cell and checks that the load generator's
// memory stays flat: its live heap and RSS at the end of the window may not
// exceed --max-growth times their value at one minute. It exits 1 when they do,
// otherwise as run does.
func cmdSoak(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "soak", soakArgs)
	model := fs.String("model", soakModel, "server `model`: "+strings.Join(catalog.Names(), ", "))
	rate := fs.Float64("rate", soakRate, "offered rate in `req/s` of /plain")
	duration := fs.Duration("duration", soakDuration, "measured window; the reference is taken at 1 minute (at half the window when it is shorter than 2 minutes)")
	maxGrowth := fs.Float64("max-growth", soakMaxGrowth, "largest allowed `ratio` of the generator's live heap and RSS at the end to those at the reference")
	// Not cpu by default: the CPU profiler builds its profile in the
	// generator's heap (about a megabyte, growing with the stacks it sees),
	// which the soak would count as the generator's own growth.
	kinds := fs.String("profile-generator", "heap", "`profiles` of the generator saved beside the results: cpu, heap, goroutine, all, or none (cpu adds its own buffers to the heap measured)")
	out := fs.String("out", runner.DefaultOutDir, "parent `directory` of the results directory")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if _, ok := catalog.Lookup(*model); !ok {
		return usageError("soak: --model: unknown model %q (one of %s)", *model, strings.Join(catalog.Names(), ", "))
	}
	switch {
	case !(*rate > 0) || math.IsInf(*rate, 0):
		return usageError("soak: --rate: %g must be > 0", *rate)
	case *duration < 2*time.Duration(soakSpan)*time.Second:
		return usageError("soak: --duration: %s is too short to compare two %d s stretches", *duration, soakSpan)
	case !(*maxGrowth >= 1):
		return usageError("soak: --max-growth: %g must be ≥ 1", *maxGrowth)
	}
	if *kinds == "none" {
		*kinds = ""
	}
	genProfiles, err := profiling.ParseGeneratorKinds(*kinds)
	if err != nil {
		return usageError("soak: --profile-generator: %v", err)
	}
	p, err := plan.Parse([]byte(fmt.Sprintf(`name: soak
description: the load generator's memory over one long /plain cell
models: [%s]
duration: %s
warmup: 5s
reps: 1
scenarios:
  - name: plain
    description: /plain at a steady rate
    mix:
      - {name: plain, target: /plain, weight: 1}
    rates: [%s]
`, *model, *duration, units.Plain(*rate))), "soak")
	if err != nil {
		return usageError("soak: %v", err)
	}
	res, err := runner.Run(ctx, runner.Options{
		Plan: p, OutDir: *out, GeneratorProfiles: genProfiles, Version: Version,
		Log: env.Stderr, Terminal: env.Terminal,
	})
	if res == nil {
		return err
	}
	writeReport(env, res.Dir, res.Run)
	if err == nil && len(res.Run.Cells) == 1 {
		if derr := printSoak(env.Stdout, res.Dir, res.Run.Cells[0], *maxGrowth); derr != nil {
			return derr
		}
	}
	return runExit(env.Stdout, res, err)
}

// soakPoint is the generator's memory around one moment of the window.
type soakPoint struct {
	at        time.Duration // end of the stretch, from the window's start
	heap, rss int64         // medians over the stretch
}

// soakReading is the median of the generator's figures over the soakSpan
// seconds of the timeline that end at `at` (fewer at the window's start);
// seconds without a reading are skipped. ok is false without any reading.
func soakReading(tl []result.Second, at time.Duration) (p soakPoint, ok bool) {
	last := int(at/time.Second) - 1
	var heaps, rsss []int64
	for _, s := range tl {
		if s.T > last-soakSpan && s.T <= last && s.GeneratorHeapBytes > 0 && s.GeneratorRSSBytes > 0 {
			heaps = append(heaps, s.GeneratorHeapBytes)
			rsss = append(rsss, s.GeneratorRSSBytes)
		}
	}
	if len(heaps) == 0 {
		return soakPoint{}, false
	}
	median := func(xs []int64) int64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	return soakPoint{at: at, heap: median(heaps), rss: median(rsss)}, true
}

// soakRefAt is where the reference reading of a window of dur is taken.
func soakRefAt(dur time.Duration) time.Duration {
	if dur < 2*soakRef {
		return (dur / 2).Truncate(time.Second)
	}
	return soakRef
}

// printSoak prints the generator's memory per minute, at the reference and
// at the end, and returns an error when either figure grew by more than max.
func printSoak(w io.Writer, dir string, c result.Cell, max float64) error {
	dur := time.Duration(c.DurationSec * float64(time.Second))
	if n := len(c.Timeline); n > 0 {
		dur = min(dur, time.Duration(c.Timeline[n-1].T+1)*time.Second)
	}
	ref, ok1 := soakReading(c.Timeline, soakRefAt(dur))
	end, ok2 := soakReading(c.Timeline, dur)
	if !ok1 || !ok2 || ref.heap == 0 || ref.rss == 0 {
		return errors.New("soak: the cell recorded no generator memory readings")
	}
	step := time.Minute
	if dur < 2*time.Minute {
		step = 10 * time.Second
	}
	fmt.Fprintf(w, "load generator memory, %s × /plain at %s (live heap after the last GC / RSS):\n", c.Model, units.Rate(c.Rate))
	for at := step; at <= dur; at += step {
		if s, ok := soakReading(c.Timeline, at); ok {
			fmt.Fprintf(w, "  %6s  heap %-10s RSS %s\n", at, units.Bytes(float64(s.heap)), units.Bytes(float64(s.rss)))
		}
	}
	hr, rr := float64(end.heap)/float64(ref.heap), float64(end.rss)/float64(ref.rss)
	fmt.Fprintf(w, "at %s: heap %s, RSS %s; at the end (%s): heap %s, RSS %s (medians of %d s each)\n",
		ref.at, units.Bytes(float64(ref.heap)), units.Bytes(float64(ref.rss)), end.at, units.Bytes(float64(end.heap)), units.Bytes(float64(end.rss)), soakSpan)
	verdict := "flat"
	if hr > max || rr > max {
		verdict = "GROWS"
	}
	fmt.Fprintf(w, "growth: heap ×%.3f, RSS ×%.3f (limit ×%.2f): %s\n", hr, rr, max, verdict)
	if f, ok := c.Files[profiling.GeneratorFileKind(profiling.Heap)]; ok {
		fmt.Fprintf(w, "generator heap profile: %s\n", filepath.Join(dir, f))
	}
	if verdict != "flat" {
		return fmt.Errorf("soak: the load generator's memory grew from %s to %s: heap ×%.3f, RSS ×%.3f, above ×%.2f", ref.at, end.at, hr, rr, max)
	}
	return nil
}
