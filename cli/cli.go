// Package cli implements the concbench commands. main only calls Main, so every
// command can be run, and tested, as a function.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/concbench/concbench/servecmd"
	"github.com/concbench/concbench/servers/cluster"
)

// Exit codes. Each failure class has its own, so scripts and CI can tell them apart.
const (
	ExitOK = 0
	// ExitError: the command failed (I/O, a server that would not start, ...).
	ExitError = 1
	// ExitUsage: bad flags, arguments, plan or input files.
	ExitUsage = 2
	// ExitInvalid: a run finished but some cells are invalid (generator-bound).
	ExitInvalid = 3
	// ExitSLO: a run finished and broke one of its plan's SLO thresholds.
	ExitSLO = 4
	// ExitInterrupted: stopped by SIGINT/SIGTERM; finished results were kept.
	ExitInterrupted = 130
)

// Version is stamped by the Makefile with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Env is what a command may touch of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	// Terminal is true when Stderr is an interactive terminal (live progress lines).
	Terminal bool
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *Env, args []string) error
}

// commands lists every subcommand; help prints them in this order.
var commands = []command{
	{"serve", servecmd.Args, "run one server model", cmdServe},
	{"models", "", "list the server models", cmdModels},
	{"calibrate", "[--budget 1s]", "print the cost of one unit of each workload on this machine", cmdCalibrate},
	{"run", "[--plan FILE|NAME] [flags]", "run a benchmark plan (default: the quick plan) and write results/", cmdRun},
	{"attack", "--target URL --out DIR [--plan P] [--scenario S] [--rate R] [--shard i/N] [--start-at T]", "run one generator shard of one cell against a running server", cmdAttack},
	{"merge", "--out DIR SHARD_DIR...", "merge the shards of one cell exactly into one results directory", cmdMerge},
	{"k8s", "--target URL --shards N --image IMAGE [flags] | collect --out DIR", "print a Kubernetes Indexed Job running one cell's shards; collect merges their logs", cmdK8s},
	{"profile", "[--model M] [--scenario S] [--rate R] [flags]", "profile one cell and print the top functions by CPU time", cmdProfile},
	{"soak", "[--model goroutine] [--rate 5000] [--duration 10m] [flags]", "run one long /plain cell; exit 1 if the load generator's memory grows", cmdSoak},
	{"ceiling", "[--step 1s] [flags]", "measure the load generator's ceiling (and wrk's) on this machine", cmdCeiling},
	{"compare", "[--fail-on ...] [--format text|markdown] OLD NEW", "compare two sets of results; exit 1 on a significant regression", cmdCompare},
	{"report", "[--quiet] RESULTS_DIR", "regenerate a results directory's charts, report.html and summary.md", cmdReport},
	{"export-bench", "[-o FILE] RESULTS...", "write results in Go benchmark format for benchstat", cmdExportBench},
	{"version", "", "print the version", cmdVersion},
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError makes a one-line usage error (exit 2).
func usageError(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// withCode wraps err with an exit code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code, err}
}

// Main runs the command in args and returns the process exit code. Errors are
// printed as one line on stderr.
func Main(ctx context.Context, stdout, stderr io.Writer, args []string) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		env.Terminal = term.IsTerminal(int(f.Fd()))
	}
	var err error
	if cluster.IsChild() {
		// A cluster supervisor started this process as one of its children.
		err = servecmd.Child(ctx)
	} else {
		err = Run(ctx, env, args)
	}
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "concbench: %s\n", servecmd.OneLine(err.Error()))
	} else {
		code = ExitOK
	}
	return code
}

// Run dispatches args to a command.
func Run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			return Run(ctx, env, []string{args[1], "-h"})
		}
		printHelp(env.Stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	return usageError("unknown command %q (run 'concbench help')", args[0])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "concbench measures how server concurrency models behave under load.")
	fmt.Fprintln(w, "\nUsage: concbench COMMAND [flags]  (concbench help COMMAND for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

// newFlags returns a FlagSet whose errors come back as one-line usage errors
// instead of exiting or printing the flag list; -h prints the command's flags.
func newFlags(env *Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parseFlags prints the usage for -h only
	usages.Store(fs, func() {
		fmt.Fprintf(env.Stdout, "Usage: concbench %s %s\n\nFlags:\n", name, args)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	})
	return fs
}

// usages maps a FlagSet made by newFlags to its usage printer.
var usages sync.Map

// parseFlags parses args, turning flag errors into one-line usage errors and
// refusing stray positional arguments unless maxArgs allows them.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if u, ok := usages.Load(fs); ok {
				u.(func())()
			}
			return err
		}
		return usageError("%s: %v (run 'concbench help %s')", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > maxArgs {
		return usageError("%s: unexpected argument %q (run 'concbench help %s')", fs.Name(), fs.Arg(maxArgs), fs.Name())
	}
	return nil
}

func cmdVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "version", "")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "concbench", Version)
	return nil
}
