// Package servecmd is `concbench serve`: one server model, or a reference
// system, in this process, until it is signalled. It is a package of its own,
// importing only the servers and what they need, so that cmd/concbench-serve
// can be a binary of the servers alone: a model run from the whole concbench
// binary carries the harness's other packages (reports, plots, the load
// generator, Kubernetes' API types), whose initialisation leaves ~1 MB live on
// the heap. That made the collector run 44 % more often and cost 3 % of the
// goroutine model's CPU at its /plain peak against 1 % from a small binary
// (issue 15, README "The harness's own cost").
package servecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/cluster"
	"github.com/concbench/concbench/servers/models"
	"github.com/concbench/concbench/servers/reference"
)

// Args is the command's synopsis, after `concbench serve`.
const Args = "--model M [--addr 127.0.0.1:PORT] [flags]"

// UsageError is an error in the command line or its settings: exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// OneLine is an error message as both binaries (concbench and
// concbench-serve) print it on stderr: its first line, and " ..." when it
// had more.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

// Run serves the model of the command line args (the flags after `serve`)
// until ctx is done, announcing its address on stdout (launch.Announce); -v
// logs to stderr. -h prints the flags on stdout and returns flag.ErrHelp.
func Run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet(launch.Subcommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var c launch.Command
	c.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: concbench %s %s\n\nFlags:\n", launch.Subcommand, Args)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return usageError("%s: %v (run 'concbench help %s')", launch.Subcommand, err, launch.Subcommand)
	}
	if fs.NArg() > 0 {
		return usageError("%s: unexpected argument %q (run 'concbench help %s')", launch.Subcommand, fs.Arg(0), launch.Subcommand)
	}
	newServer, ok := models.New(c.Model)
	entry, known := catalog.Lookup(c.Model)
	if !ok && known && entry.Kind == catalog.Reference {
		if err := reference.Check(c.Model); err != nil {
			return fmt.Errorf("serve %s: %w", c.Model, err)
		}
		if c.Model != reference.ApacheWorker {
			return execNode(c)
		}
		newServer = func(cfg servers.Config) (servers.Server, error) { return reference.NewApache(cfg) }
		ok = true
	}
	if !ok {
		names := strings.Join(catalog.Names(), ", ")
		if c.Model == "" {
			return usageError("serve: --model is required (one of %s)", names)
		}
		return usageError("serve: unknown model %q (one of %s)", c.Model, names)
	}
	cfg := servers.Config{Settings: c.Settings}
	if c.Verbose {
		cfg.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var pprofAddr atomic.Pointer[string] // set by the model before it calls ready
	cfg.PprofBound = func(a net.Addr) {
		s := a.String()
		pprofAddr.CompareAndSwap(nil, &s)
	}
	if c.ProfileRates {
		servers.EnableProfileRates()
	}
	if cfg.Grace <= 0 {
		return usageError("serve: --grace must be positive, got %s", cfg.Grace)
	}
	if err := pinTo(c.CPUs); err != nil {
		return err
	}
	if entry.Kind == catalog.GoModel {
		applyProcs(c.Model, c.Settings)
	}
	srv, err := newServer(cfg)
	if err != nil {
		return usageError("serve: %v", err)
	}
	ready := func(addr net.Addr) {
		var pprof string
		if a := pprofAddr.Load(); a != nil {
			pprof = *a
		}
		_ = launch.Announce(stdout, addr.String(), pprof) // a parent that stopped reading notices no line
		if f, ok := stdout.(*os.File); ok {
			_ = f.Sync()
		}
	}
	start := time.Now()
	if err := srv.Serve(ctx, ready); err != nil {
		return fmt.Errorf("serve %s: %w", c.Model, err)
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		return context.Cause(ctx)
	}
	if c.Verbose {
		fmt.Fprintf(stderr, "concbench: %s stopped after %s\n", c.Model, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// pinTo pins this process to the CPU list cpus ("" leaves it alone).
func pinTo(cpus string) error {
	if cpus == "" {
		return nil
	}
	set, err := cpuset.Parse(cpus)
	if err == nil {
		err = cpuset.PinSelf(set)
	}
	if err != nil {
		return usageError("serve: --cpus: %v", err)
	}
	return nil
}

// applyProcs sets GOMAXPROCS by the model's policy (models.Procs) for the
// CPUs this process is pinned to, unless the GOMAXPROCS environment variable
// sets it (say, to measure a model without its policy): then that is kept
// and named as the reason.
func applyProcs(model string, s launch.Settings) {
	if env := os.Getenv("GOMAXPROCS"); env != "" {
		// Pinning has set GOMAXPROCS to the CPU count; the variable wins again.
		if n, err := strconv.Atoi(env); err == nil && n > 0 {
			servers.SetProcs(servers.Procs{N: n, Reason: "GOMAXPROCS=" + env + " in the environment"})
			return
		}
	}
	cpus := runtime.NumCPU() // the affinity this process started with
	if set, err := cpuset.Available(); err == nil {
		cpus = len(set)
	}
	servers.SetProcs(models.Procs(model, s, cpus))
}

// execNode replaces this process with the Node.js reference server of c, so
// that signals, the process tree and the announce line are Node's own. The
// CPU pinning, done first, is inherited.
func execNode(c launch.Command) error {
	if err := pinTo(c.CPUs); err != nil {
		return err
	}
	cmd, err := reference.NodeCommand(c.Model, c.Settings)
	if err != nil {
		return usageError("serve: %v", err)
	}
	return fmt.Errorf("serve %s: exec %s: %w", c.Model, cmd.Path, syscall.Exec(cmd.Path, cmd.Args, os.Environ()))
}

// Child runs this process as a cluster child, when a cluster supervisor
// started it as one (cluster.IsChild).
func Child(ctx context.Context) error {
	if os.Getenv(servers.ProfileRatesEnv) != "" { // set by `serve --profile-rates`
		servers.EnableProfileRates()
	}
	applyProcs(models.Cluster, launch.Settings{})
	return cluster.ChildMain(ctx)
}
