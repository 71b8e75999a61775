// Package servers holds what every concurrency model shares: the contract a model
// implements, its configuration, the /stats figures and the pprof endpoint. The
// models themselves live in sub-packages, one each.
package servers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// Server is one concurrency model serving the workloads route table.
type Server interface {
	// Serve listens on the configured address and serves until ctx is cancelled;
	// then it stops accepting, lets in-flight requests finish for up to the grace
	// period, and returns. ready, if not nil, is called once with the bound address
	// when the server accepts connections. Serve returns a non-nil error only when
	// it could not serve (e.g. the address is taken), not for a clean shutdown.
	Serve(ctx context.Context, ready func(net.Addr)) error
}

// Config configures a model. Zero fields take the defaults documented here; the
// fields that do not apply to a model are ignored by it.
type Config struct {
	// Addr is the loopback address to serve on; port 0 picks a free port.
	Addr string
	// PprofAddr, when set, serves net/http/pprof there (loopback only).
	PprofAddr string
	// Grace bounds the drain of in-flight requests on shutdown (default 10s).
	Grace time.Duration

	// MaxThreads caps the thread model's concurrent requests, like Apache's
	// MaxRequestWorkers (default 256).
	MaxThreads int
	// Workers is the offload model's pool size (default 4, like libuv's pool).
	Workers int
	// Queue bounds the offload model's pending jobs; a full queue answers 503 (default 1024).
	Queue int
	// Procs is the cluster model's number of child processes (default: the number
	// of CPUs this process may run on).
	Procs int

	// Log receives the server's own log lines (default: discard).
	Log *slog.Logger
}

// Defaults of Config.
const (
	DefaultGrace      = 10 * time.Second
	DefaultMaxThreads = 256
	DefaultWorkers    = 4
	DefaultQueue      = 1024
)

// WithDefaults returns c with every zero field set to its default, and checks ranges.
func (c Config) WithDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.MaxThreads == 0 {
		c.MaxThreads = DefaultMaxThreads
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.Procs == 0 {
		c.Procs = runtime.NumCPU()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	for _, r := range []struct {
		name   string
		v, max int
	}{{"max-threads", c.MaxThreads, 10000}, {"workers", c.Workers, 1024}, {"queue", c.Queue, 1 << 20}, {"procs", c.Procs, 64}} {
		if r.v < 1 || r.v > r.max {
			return c, fmt.Errorf("%s: %d out of range [1, %d]", r.name, r.v, r.max)
		}
	}
	if c.Grace < 0 {
		return c, fmt.Errorf("grace: negative duration %s", c.Grace)
	}
	if err := CheckLoopback(c.Addr); err != nil {
		return c, fmt.Errorf("addr: %w", err)
	}
	if c.PprofAddr != "" {
		if err := CheckLoopback(c.PprofAddr); err != nil {
			return c, fmt.Errorf("pprof-addr: %w", err)
		}
	}
	return c, nil
}

// CheckLoopback accepts only host:port addresses on the loopback interface: the
// servers exist to be measured on this machine, never exposed to a network.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (use 127.0.0.1)", host)
	}
	return nil
}
