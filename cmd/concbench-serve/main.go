// Command concbench-serve is `concbench serve` alone: the server models and
// the reference launchers, without the rest of the harness (servecmd says
// why). `make build` builds it beside concbench, and `concbench run` starts
// the servers with it when it is there (results.json's environment names the
// binary): concbench-serve serve --model M [flags], the flags of `concbench
// serve`. Exit status: 0, 1 (the server failed), 2 (bad flags).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servecmd"
	"github.com/concbench/concbench/servers/cluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, stdout, stderr io.Writer, args []string) int {
	var err error
	switch {
	case cluster.IsChild():
		err = servecmd.Child(ctx)
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		err = servecmd.Run(ctx, stdout, stderr, []string{"-h"})
	case len(args) == 0 || args[0] != launch.Subcommand:
		err = &servecmd.UsageError{Err: fmt.Errorf("usage: concbench-serve %s %s", launch.Subcommand, servecmd.Args)}
	default:
		err = servecmd.Run(ctx, stdout, stderr, args[1:])
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "concbench: %s\n", servecmd.OneLine(err.Error()))
	if ue := (*servecmd.UsageError)(nil); errors.As(err, &ue) {
		return 2
	}
	return 1
}
