package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/concbench/concbench/reports"
	"github.com/concbench/concbench/result"
)

// cmdReport regenerates the charts, report.html and summary.md of a results
// directory from its results.json, and prints the verdict table. A missing or
// unreadable directory is a usage error (exit 2).
func cmdReport(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "report", "[--quiet] RESULTS_DIR\n\n"+
		"Regenerates report.html, summary.md and the PNG charts in RESULTS_DIR from its\n"+
		"results.json (nothing is measured again), then prints the verdict table.")
	quiet := fs.Bool("quiet", false, "do not print the verdict table")
	pos, err := parseFlagsAnywhere(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("report: want 1 argument, RESULTS_DIR (a results directory holding %s), got %d", result.FileName, len(pos))
	}
	dir := pos[0]
	st, err := os.Stat(dir)
	if err != nil {
		return usageError("report: %v", err)
	}
	if !st.IsDir() {
		return usageError("report: %s is not a directory (want a results directory holding %s)", dir, result.FileName)
	}
	run, err := result.Load(dir)
	if err != nil {
		return usageError("report: %v", err)
	}
	rep, err := reports.Build(run)
	if err != nil {
		return withCode(ExitError, fmt.Errorf("report: %w", err))
	}
	files, err := rep.Write(dir)
	if err != nil {
		return withCode(ExitError, fmt.Errorf("report: %s: %w", dir, err))
	}
	if !*quiet {
		if err := rep.WriteTable(env.Stdout); err != nil {
			return withCode(ExitError, err)
		}
		if rep.Fidelity != nil {
			fmt.Fprintln(env.Stdout, rep.Fidelity.Line())
		}
	}
	fmt.Fprintf(env.Stderr, "concbench: wrote %s, %s and %d charts\n",
		filepath.Join(dir, reports.HTMLFile), reports.MarkdownFile, len(files)-2)
	return nil
}
