package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/concbench/concbench/ceiling"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/runner"
	"github.com/concbench/concbench/units"
)

// cmdCeiling measures the highest rate the load generator sustains against
// /plain of the goroutine and eventloop servers, each pinned to one CPU with
// the generator on another, and wrk's rate against the same server when wrk is
// installed. The figure is saved to OUT/ceiling.json, where `concbench run`
// reads it to flag generator-bound cells.
func cmdCeiling(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ceiling", "[--step 1s] [--wrk-duration 5s] [--wrk PATH|none] [--out DIR] [--server-cpus 1 --loadgen-cpus 0]")
	step := fs.Duration("step", time.Second, "measured window of each rate the generator tries")
	start := fs.Float64("start", 2000, "first offered rate in `req/s`; each sustained step multiplies it by 1.25")
	wrkDur := fs.Duration("wrk-duration", 5*time.Second, "duration of the wrk run against each server")
	wrk := fs.String("wrk", "", "wrk `executable` (default: wrk on PATH, skipped when absent; none: skip)")
	out := fs.String("out", runner.DefaultOutDir, "`directory` to save "+ceiling.File+" in (concbench run --out DIR reads it from there)")
	serverCPUs := fs.String("server-cpus", "", "`CPUs` the servers run on (default: the second available CPU)")
	loadgenCPUs := fs.String("loadgen-cpus", "", "`CPUs` the generator and wrk run on (default: the first available CPU)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *step < 100*time.Millisecond || *step > time.Minute {
		return usageError("ceiling: --step %s out of range [100ms, 1m]", *step)
	}
	if *wrkDur < time.Second || *wrkDur > 10*time.Minute {
		return usageError("ceiling: --wrk-duration %s out of range [1s, 10m]", *wrkDur)
	}
	if !(*start > 0) || *start > 1e6 {
		return usageError("ceiling: --start %g out of range (0, 1e6]", *start)
	}
	for _, c := range []struct{ flag, v string }{{"server-cpus", *serverCPUs}, {"loadgen-cpus", *loadgenCPUs}} {
		if _, err := runner.ParseCPUs(c.v); err != nil {
			return usageError("ceiling: --%s: %v", c.flag, err)
		}
	}
	c, err := ceiling.Measure(ctx, ceiling.Options{
		ServerCPUs:  *serverCPUs,
		LoadgenCPUs: *loadgenCPUs,
		Loadgen:     loadgen.CeilingOptions{Step: *step, Start: *start},
		Wrk:         *wrk,
		WrkDuration: *wrkDur,
		Version:     Version,
		Log:         env.Stderr,
		Terminal:    env.Terminal,
	})
	if c == nil {
		return err
	}
	if errors.Is(err, runner.ErrInterrupted) {
		return withCode(ExitInterrupted, errors.New("ceiling: interrupted, nothing saved"))
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(env.Stdout, "Load generator ceiling against /plain (transport %s; server CPUs %s, generator CPUs %s):\n\n",
		c.Transport, orNone(c.Env.Pinning.ServerCPUs), orNone(c.Env.Pinning.LoadgenCPUs))
	fmt.Fprintln(tw, "server\tloadgen req/s\twrk req/s\tratio\t")
	for _, s := range c.Servers {
		wrkRate, ratio := "-", "-"
		if s.WrkRPS > 0 {
			wrkRate = units.Num(s.WrkRPS)
			ratio = fmt.Sprintf("%.2f", s.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", s.Model, units.Num(s.LoadgenRPS), wrkRate, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "\nGenerator precision at fixed rates of /plain (median of each pair's runs; precise is the default pacing, vegeta the Go timer):")
	fmt.Fprintln(env.Stdout)
	tw = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\trate\tpacing\tlag p50\tlag p99\tresponse p50\tservice p50\tgenerator CPU\tstall p99\t")
	for _, s := range c.Servers {
		for _, l := range ceiling.LagMedians(s.Lag) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f %%\t%s\t\n", s.Model, units.Rate(l.Rate), l.Pacing,
				ceiling.MsDuration(l.LagP50), ceiling.MsDuration(l.LagP99), ceiling.MsDuration(l.ResponseP50), ceiling.MsDuration(l.ServiceP50),
				l.CPUPercent, ceiling.MsDuration(l.StallP99))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range c.Servers {
		if s.Error != "" {
			fmt.Fprintf(env.Stdout, "%s: %s\n", s.Model, s.Error)
		}
	}
	if c.Wrk == "" {
		fmt.Fprintln(env.Stdout, "(wrk not found on PATH: install it, e.g. apt-get install wrk, for the comparison)")
	}
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	path, serr := ceiling.Save(*out, c)
	if serr != nil {
		return fmt.Errorf("ceiling: save: %w", serr)
	}
	fmt.Fprintf(env.Stdout, "\nceiling %s saved to %s: concbench run flags cells offered above %s as generator-bound\n",
		units.Rate(c.RPS), path, units.Rate(runner.GeneratorBoundFraction*c.RPS))
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
