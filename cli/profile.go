package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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

const profileArgs = "[--model eventloop] [--scenario cpu-mix] [--rate R] [--duration 10s] [--plan quick] [--profile cpu,...] [--top 15] [--out DIR]"

// cmdProfile runs one cell with CPU profiling (and any other profile asked
// for) and prints its top functions by flat and cumulative CPU time, the
// server-side figures of the same window and how to open the profile.
func cmdProfile(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "profile", profileArgs)
	goModels := strings.Join(catalog.Builtin().NamesOf(catalog.GoModel), ", ")
	model := fs.String("model", "eventloop", "server `model` (a Go model: the references have no pprof): "+goModels)
	scenario := fs.String("scenario", "cpu-mix", "the plan's `scenario` to offer")
	rate := fs.Float64("rate", 0, "offered rate in `req/s` (default: the scenario's first rate)")
	duration := fs.Duration("duration", 10*time.Second, "measured window, profiled whole")
	planRef := fs.String("plan", "", "plan `file` or built-in plan holding the scenario (default "+plan.DefaultBuiltin+")")
	kinds := fs.String("profile", string(profiling.CPU), "`profiles` to capture besides cpu: heap, goroutine, mutex, block, trace, all")
	top := fs.Int("top", 15, "`rows` of each table")
	out := fs.String("out", runner.DefaultOutDir, "parent `directory` of the results directory")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if e, ok := catalog.Lookup(*model); !ok || e.Kind != catalog.GoModel {
		return usageError("profile: --model: %q is not a Go model (one of %s)", *model, goModels)
	}
	if *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0) {
		return usageError("profile: --rate: %g must be > 0", *rate)
	}
	if *top < 1 {
		return usageError("profile: --top: %d must be ≥ 1", *top)
	}
	profiles, err := profiling.ParseKinds(*kinds)
	if err != nil {
		return usageError("profile: --profile: %v", err)
	}
	if !slices.Contains(profiles, profiling.CPU) {
		profiles = append([]profiling.Kind{profiling.CPU}, profiles...) // profiling.Kinds order: cpu first
	}
	p, err := plan.Resolve(*planRef)
	if err != nil {
		return usageError("profile: %v", err)
	}
	o := plan.Overrides{Models: []string{*model}, Scenarios: []string{*scenario}, Duration: *duration, Reps: 1}
	if *rate > 0 {
		o.Rates = []float64{*rate}
	} else {
		for _, s := range p.Scenarios {
			if s.Name == *scenario && len(s.Rates) > 0 {
				o.Rates = s.Rates[:1]
			}
		}
	}
	if err := p.Apply(o); err != nil {
		return usageError("profile: %v", err)
	}
	p.SLOs = nil // a profiling session gates nothing

	res, err := runner.Run(ctx, runner.Options{
		Plan: p, OutDir: *out, Profiles: profiles, Version: Version,
		Log: env.Stderr, Terminal: env.Terminal,
	})
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return withCode(ExitInterrupted, fmt.Errorf("profile: interrupted"))
	case err != nil:
		return fmt.Errorf("profile: %w", err)
	case len(res.Run.Cells) != 1:
		return fmt.Errorf("profile: the run measured %d cells, want 1 (%s)", len(res.Run.Cells), res.Dir)
	}
	bin := res.Run.Env.ServerBinary // the binary the profile was taken of
	if bin == "" {
		bin, _ = os.Executable()
	}
	return printProfile(env.Stdout, res.Dir, bin, res.Run.Cells[0], *top)
}

// printProfile prints a profiled cell: what was measured, the server's own
// figures for the window, the top functions of its CPU profile (the cluster's
// children merged) and the command that opens it.
func printProfile(w io.Writer, dir, bin string, c result.Cell, top int) error {
	paths := profiling.Paths(c.Files, profiling.CPU)
	state := "valid"
	if c.Validity.ServerFailed() {
		state = "INVALID: the server failed during the window"
	} else if !c.Validity.Valid {
		state = "INVALID: the latencies describe the load generator, the profile still describes the server"
	} else if c.Validity.OverCapacity {
		state = "valid, over capacity"
	}
	fmt.Fprintf(w, "%s × %s at %s, %s window (%s)\n", c.Model, c.Scenario, units.Rate(c.Rate), time.Duration(c.DurationSec*float64(time.Second)), state)
	for _, r := range c.Validity.Reasons {
		fmt.Fprintf(w, "  note: %s\n", r)
	}
	for _, cl := range c.Classes {
		fmt.Fprintf(w, "  %-10s %6d requests  p50 %-9s p99 %-9s max %s\n", cl.Name, cl.Requests, units.Ms(cl.Response.P50), units.Ms(cl.Response.P99), units.Ms(cl.Response.Max))
	}
	fmt.Fprintln(w, "server during the window (results.json: the cell's \"server\"):")
	serverFigures(w, c)
	if len(paths) == 0 {
		return fmt.Errorf("profile: no CPU profile was captured (results in %s)", dir)
	}
	full := make([]string, len(paths))
	for i, p := range paths {
		full[i] = filepath.Join(dir, p)
	}
	prof, err := profiling.ReadMerged(full...)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	byFlat, byCum, total, unit := profiling.TopFunctions(prof, top)
	if unit == nil || total == 0 {
		return fmt.Errorf("profile: the CPU profile %s holds no samples", strings.Join(full, " "))
	}
	what := "CPU profile"
	if _, own := c.Files[profiling.FileKind(profiling.CPU, -1)]; !own {
		what = fmt.Sprintf("CPU profiles of %d cluster children, merged", len(full))
		if len(full) == 1 {
			what = "CPU profile of the cluster's only child"
		}
	}
	dur := time.Duration(prof.DurationNanos)
	fmt.Fprintf(w, "%s: %s sampled in %s (%.0f%% of one CPU)\n", what, fmtValue2(total, unit.Unit), units.Duration(dur), 100*float64(total)/float64(max(dur, 1)))
	fmt.Fprintf(w, "\ntop %d by flat time (in the function itself):\n", len(byFlat))
	topTable(w, byFlat, total, unit.Unit, true)
	fmt.Fprintf(w, "\ntop %d by cumulative time (in the function and what it calls):\n", len(byCum))
	topTable(w, byCum, total, unit.Unit, false)
	fmt.Fprintf(w, "\nopen it: go tool pprof -http=127.0.0.1:0 %s %s\n", relPath(bin), strings.Join(relPaths(full), " "))
	return nil
}

// serverFigures prints the /stats figures that explain a profile.
func serverFigures(w io.Writer, c result.Cell) {
	s := c.Server
	us := func(v float64) string { return units.Duration(time.Duration(v * float64(time.Microsecond))) }
	if d := s.LoopDelay; d != nil && d.Count > 0 {
		fmt.Fprintf(w, "  loop delay      p50 %-9s p99 %-9s max %-9s (%d probes)\n", us(float64(d.P50Us)), us(float64(d.P99Us)), us(float64(d.MaxUs)), d.Count)
	}
	if p := s.Pool; p != nil {
		q := p.QueueWait
		fmt.Fprintf(w, "  pool queue wait p50 %-9s p99 %-9s max %-9s (%d jobs; %d workers, peak queue %d, %d rejected)\n",
			us(float64(q.P50Us)), us(float64(q.P99Us)), us(float64(q.MaxUs)), q.Count, p.Workers, p.QueueDepthPeak, p.Rejected)
	}
	if rt := s.Runtime; rt != nil {
		if l := rt.SchedLatency; l.Count > 0 {
			fmt.Fprintf(w, "  sched latency   p50 %-9s p99 %-9s max %-9s (%d goroutines made runnable)\n", us(l.P50Us), us(l.P99Us), us(l.MaxUs), l.Count)
		}
		if g := rt.GCPauses; g.Count > 0 {
			fmt.Fprintf(w, "  GC pauses       p50 %-9s p99 %-9s max %-9s (%d pauses, %d cycles)\n", us(g.P50Us), us(g.P99Us), us(g.MaxUs), g.Count, rt.GCCycles)
		} else {
			fmt.Fprintf(w, "  GC pauses       none (%d cycles)\n", rt.GCCycles)
		}
	}
	if r := c.Resources; r.Samples > 0 {
		fmt.Fprintf(w, "  process         CPU %.0f%% mean, %.0f%% peak; RSS %s peak; %d threads peak\n", r.MeanCPUPct, r.PeakCPUPct, units.Bytes(float64(r.PeakRSSBytes)), r.PeakThreads)
	}
}

func topTable(w io.Writer, rows []profiling.FuncValue, total int64, unit string, withSum bool) {
	fmt.Fprintf(w, "  %9s %6s %6s %9s %6s  %s\n", "flat", "flat%", "sum%", "cum", "cum%", "function")
	var sum int64
	for _, r := range rows {
		sum += r.Flat
		sumPct := "" // a running sum of flat means nothing in cumulative order
		if withSum {
			sumPct = pct(sum, total)
		}
		fmt.Fprintf(w, "  %9s %6s %6s %9s %6s  %s\n", fmtValue2(r.Flat, unit), pct(r.Flat, total), sumPct, fmtValue2(r.Cum, unit), pct(r.Cum, total), profiling.ShortFunc(r.Name))
	}
}

func pct(v, total int64) string { return fmt.Sprintf("%.1f%%", 100*float64(v)/float64(total)) }

// fmtValue2 renders a profile value in its unit. Like pct, it keeps pprof's
// own compact style (1.19s, 400ms, 1.5ms) on purpose, so that the table reads
// like the go tool pprof -top it summarises; every other figure is units'.
func fmtValue2(v int64, unit string) string {
	switch unit {
	case "nanoseconds": // as go tool pprof -top does: 1.19s, 400ms, 1.5ms, 0
		d := time.Duration(v)
		switch {
		case d == 0:
			return "0"
		case d >= time.Second:
			return fmt.Sprintf("%.2fs", d.Seconds())
		case d >= 10*time.Millisecond:
			return fmt.Sprintf("%.0fms", float64(d)/1e6)
		case d >= time.Millisecond:
			return fmt.Sprintf("%.1fms", float64(d)/1e6)
		}
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case "bytes":
		return units.Bytes(float64(v))
	}
	return fmt.Sprint(v)
}

// relPath returns p relative to the working directory when it lies inside it.
func relPath(p string) string {
	if p == "" {
		return "BINARY"
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return p
}

func relPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = relPath(p)
	}
	return out
}
