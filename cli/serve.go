package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/models"
)

func cmdServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, launch.Subcommand, "--model M [--addr 127.0.0.1:PORT] [flags]")
	var c launch.Command
	c.Register(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	newServer, ok := models.New(c.Model)
	if !ok {
		// serve runs the Go models; the other catalog entries are started by their own command.
		goModels := strings.Join(catalog.Builtin().NamesOf(catalog.GoModel), ", ")
		if c.Model == "" {
			return usageError("serve: --model is required (one of %s)", goModels)
		}
		return usageError("serve: unknown model %q (one of %s)", c.Model, goModels)
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
		setProfileRates()
	}
	if cfg.Grace <= 0 {
		return usageError("serve: --grace must be positive, got %s", cfg.Grace)
	}
	if c.CPUs != "" {
		set, err := cpuset.Parse(c.CPUs)
		if err != nil {
			return usageError("serve: --cpus: %v", err)
		}
		if err := cpuset.PinSelf(set); err != nil {
			return usageError("serve: --cpus: %v", err)
		}
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

func cmdModels(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "models", "")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, m := range catalog.All() {
		fmt.Fprintf(tw, "%s\t%s\n", m.Name, m.Summary)
	}
	return tw.Flush()
}
