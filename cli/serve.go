package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/models"
	"github.com/concbench/concbench/servers/reference"
)

func cmdServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, launch.Subcommand, "--model M [--addr 127.0.0.1:PORT] [flags]")
	var c launch.Command
	c.Register(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
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
		cfg.Log = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	var pprofAddr atomic.Pointer[string] // set by the model before it calls ready
	cfg.PprofBound = func(a net.Addr) {
		s := a.String()
		pprofAddr.CompareAndSwap(nil, &s)
	}
	if c.ProfileRates {
		profiling.EnableRates()
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
		_ = launch.Announce(env.Stdout, addr.String(), pprof) // a parent that stopped reading notices no line
		if f, ok := env.Stdout.(*os.File); ok {
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
		fmt.Fprintf(env.Stderr, "concbench: %s stopped after %s\n", c.Model, time.Since(start).Round(time.Millisecond))
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

func cmdModels(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "models", "")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, m := range catalog.All() {
		kind := m.Kind.String()
		if m.Kind == catalog.Reference {
			if err := reference.Check(m.Name); err != nil {
				kind = "reference, not available: " + err.Error()
			} else {
				kind = "reference beside " + m.Beside + ", available (" + reference.Version(m.Name) + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, m.Summary, kind)
	}
	return tw.Flush()
}
