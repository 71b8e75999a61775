package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/concbench/concbench/compare"
)

// cmdCompare compares two sides of results: exit 0 when nothing regressed
// beyond --fail-on, 1 on a significant regression beyond it, 2 on unusable input.
func cmdCompare(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "compare", "[--fail-on '"+compare.DefaultFailOn+"'] [--alpha 0.05] [--format text|markdown] OLD NEW\n\n"+
		"OLD and NEW are each a results directory or results.json file, or a comma-separated\n"+
		"list of them whose repetitions pool together. Exit status: 0 no regression beyond\n"+
		"--fail-on, 1 a significant regression beyond it, 2 unusable input.")
	failOn := fs.String("fail-on", compare.DefaultFailOn, "exit 1 on a significant change beyond these `thresholds`: comma-separated\n"+
		"FIGURE>+N% (worse if it grows beyond) or FIGURE<-N% (worse if it shrinks beyond),\n"+
		"FIGURE one of throughput, p50, p99, p99.9, rss, cpu; '' only reports")
	alpha := fs.Float64("alpha", compare.DefaultAlpha, "significance level of the Mann-Whitney U test")
	format := fs.String("format", "text", "output `format`: text or markdown")
	pos, err := parseFlagsAnywhere(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("compare: want 2 arguments, OLD and NEW (results directories or results.json files, comma-separated to pool runs), got %d", len(pos))
	}
	if !(*alpha > 0 && *alpha < 1) {
		return usageError("compare: --alpha %v out of range (0, 1)", *alpha)
	}
	err = compare.Run(env.Stdout, compare.Config{
		Old: strings.Split(pos[0], ","), New: strings.Split(pos[1], ","),
		FailOn: *failOn, Alpha: *alpha, Format: *format,
	})
	switch {
	case err == nil:
		return nil
	case compare.ExitCode(err) == ExitUsage:
		return usageError("compare: %v", err)
	}
	// A *compare.RegressionError naming each regression, or an output error.
	return withCode(ExitError, fmt.Errorf("compare: %w", err))
}

// parseFlagsAnywhere is parseFlags for commands that take positional
// arguments, which may come before flags as well as after them (concbench
// compare OLD NEW --format markdown). It returns the positional arguments;
// everything after "--" is one.
func parseFlagsAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, math.MaxInt); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
