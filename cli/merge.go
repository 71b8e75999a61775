package cli

import (
	"context"
	"fmt"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/shard"
)

// cmdMerge merges the results directories of the shards of one cell into one
// results directory. It exits ExitInvalid when the merged cell is invalid.
func cmdMerge(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "merge", "--out DIR SHARD_DIR...\n\n"+
		"Adds the HDR histograms of every shard of one cell (exactly), sums their counts\n"+
		"and judges the whole: invalid when a shard was, or when they started too far apart.")
	out := fs.String("out", "", "merged results `directory` to write")
	quiet := fs.Bool("quiet", false, "do not print the verdict table")
	pos, err := parseFlagsAnywhere(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) == 0 {
		return usageError("merge: want --out DIR and the shards' results directories")
	}
	return mergeDirs(env, pos, *out, *quiet)
}

// mergeDirs merges the shards in dirs into out, writes its report and picks
// the exit code.
func mergeDirs(env *Env, dirs []string, out string, quiet bool) error {
	in, err := shard.Load(dirs)
	if err != nil {
		return usageError("merge: %v", err)
	}
	run, err := shard.Merge(in, out)
	if run == nil {
		return usageError("%v", err)
	}
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	if err := result.Save(out, run); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if quiet {
		e := *env
		e.Stdout = discard{}
		env = &e
	}
	writeReport(env, out, run)
	c := run.Cells[0]
	fmt.Fprintf(env.Stdout, "merged %d shards of %s: %d requests; results: %s\n", len(c.Shards), c.ID, c.Requests, out)
	if !c.Validity.Valid {
		return withCode(ExitInvalid, fmt.Errorf("merge: cell %s invalid: %s", c.ID, c.Validity.Reasons[0]))
	}
	return nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
