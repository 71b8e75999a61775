package cli

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/concbench/concbench/units"
	"github.com/concbench/concbench/workloads"
)

func cmdCalibrate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "calibrate", "[--budget 1s] [--max-match 2s]")
	budget := fs.Duration("budget", time.Second, "time spent measuring the hash rate")
	maxMatch := fs.Duration("max-match", 2*time.Second, "stop the regex table once one backtracking match takes longer")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *budget < 10*time.Millisecond || *budget > time.Minute {
		return usageError("calibrate: --budget %s out of range [10ms, 1m]", *budget)
	}
	if *maxMatch <= 0 || *maxMatch > time.Minute {
		return usageError("calibrate: --max-match %s out of range (0, 1m]", *maxMatch)
	}
	ns := []int{10, 12, 14, 16, 18, 20, 21, 22, 23, 24, 25, 26}
	c, err := workloads.Calibrate(ctx, *budget, ns, *maxMatch)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "Measured on this machine (%s/%s, GOMAXPROCS=%d), one goroutine, no load.\n\n", runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "/cpu: %.0f SHA-256 rounds per ms (%.0f ns per round)\n", c.ItersPerMs, 1e6/c.ItersPerMs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  for a request of\titers")
	for _, ms := range []float64{1, 10, 50, 100} {
		fmt.Fprintf(tw, "  %gms\t%.0f\n", ms, math.Round(c.ItersPerMs*ms))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n/regex: %s against \"a\"*n + \"!\" (fastest of up to 5 matches)\n", workloads.Pattern)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "n\tbacktrack\t×prev/char\tre2\t")
	for i, r := range c.Regex {
		ratio := "-"
		if i > 0 {
			prev := c.Regex[i-1]
			perChar := math.Pow(float64(r.Backtrack)/float64(prev.Backtrack), 1/float64(r.N-prev.N))
			ratio = fmt.Sprintf("%.2f", perChar)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\n", r.N, units.Duration(r.Backtrack), ratio, units.Duration(r.RE2))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := len(c.Regex); n > 0 && c.Regex[n-1].N < ns[len(ns)-1] {
		fmt.Fprintf(w, "(stopped after n=%d: one match took longer than --max-match %s)\n", c.Regex[n-1].N, *maxMatch)
	}
	return nil
}
