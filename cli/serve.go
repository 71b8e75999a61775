package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/models"
)

// ListeningPrefix starts the line `concbench serve` prints on stdout once it
// accepts connections: "listening on 127.0.0.1:PORT". The run orchestrator reads
// it to learn a port chosen with :0.
const ListeningPrefix = "listening on "

func cmdServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "serve", "--model M [--addr 127.0.0.1:PORT] [flags]")
	// serve runs the Go models; the other catalog entries are started by their own command.
	goModels := strings.Join(catalog.Builtin().NamesOf(catalog.GoModel), ", ")
	model := fs.String("model", "", "server model: "+goModels+" (required)")
	var cfg servers.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "loopback `address` to serve on (port 0 picks a free port)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback `address` (off when empty)")
	fs.DurationVar(&cfg.Grace, "grace", servers.DefaultGrace, "on SIGINT/SIGTERM, how long in-flight requests may finish")
	fs.IntVar(&cfg.MaxThreads, "max-threads", servers.DefaultMaxThreads, "thread: concurrent requests, one OS thread each (Apache's MaxRequestWorkers)")
	fs.IntVar(&cfg.Workers, "workers", servers.DefaultWorkers, "offload: worker pool size (libuv's is 4)")
	fs.IntVar(&cfg.Queue, "queue", servers.DefaultQueue, "offload: pending jobs before answering 503")
	fs.IntVar(&cfg.Procs, "procs", 0, "cluster: child processes (default: CPUs this process may use)")
	cpus := fs.String("cpus", "", "pin the server to these CPUs, e.g. 1 or 0-1 (sets GOMAXPROCS to their number)")
	profileRates := fs.Bool("profile-rates", false, "record the mutex and block profiles (they cost; cluster children too)")
	verbose := fs.Bool("v", false, "log server events to stderr")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	newServer, ok := models.New(*model)
	if !ok {
		if *model == "" {
			return usageError("serve: --model is required (one of %s)", goModels)
		}
		return usageError("serve: unknown model %q (one of %s)", *model, goModels)
	}
	if *verbose {
		cfg.Log = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	var pprofAt *addrCatcher
	if cfg.PprofAddr != "" { // the models log the address they bound
		pprofAt = catchPprofAddr(cfg.Log)
		cfg.Log = slog.New(pprofAt)
	}
	if *profileRates {
		setProfileRates()
	}
	if cfg.Grace <= 0 {
		return usageError("serve: --grace must be positive, got %s", cfg.Grace)
	}
	if *cpus != "" {
		set, err := cpuset.Parse(*cpus)
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
		if a := pprofAt.addr(); a != "" { // first: the orchestrator reads up to the listening line
			fmt.Fprintf(env.Stdout, "%s%s\n", PprofPrefix, a)
		}
		fmt.Fprintf(env.Stdout, "%s%s\n", ListeningPrefix, addr)
		if f, ok := env.Stdout.(*os.File); ok {
			_ = f.Sync()
		}
	}
	start := time.Now()
	if err := srv.Serve(ctx, ready); err != nil {
		return fmt.Errorf("serve %s: %w", *model, err)
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		return context.Cause(ctx)
	}
	if *verbose {
		fmt.Fprintf(env.Stderr, "concbench: %s stopped after %s\n", *model, time.Since(start).Round(time.Millisecond))
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
