// Command barehello runs one bare hello server (internal/bare) for
// `make bench-overhead`: barehello -lib gnet|fasthttp|nethttp -addr 127.0.0.1:PORT
// [-cpuprofile FILE].
// It prints "listening on ADDR" (the line `concbench serve` prints) once it accepts connections and serves until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/concbench/concbench/internal/bare"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "barehello:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer, args []string) error {
	fs := flag.NewFlagSet("barehello", flag.ContinueOnError)
	lib := fs.String("lib", "", "library: gnet, fasthttp or nethttp")
	addr := fs.String("addr", "127.0.0.1:0", "loopback `address` to listen on")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file` (to set beside a model's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return err
		}
		// Stopped before returning, whatever Serve says, so the profile is whole.
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	return bare.Serve(ctx, *lib, *addr, func(a net.Addr) { fmt.Fprintln(stdout, "listening on", a) })
}
