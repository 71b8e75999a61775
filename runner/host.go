package runner

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
)

// Host is this process set up to measure servers: the concbench binary that
// serves found, this process (the load generator) pinned and the servers' CPUs
// chosen, the machine described. Run starts from one, and so does the
// generator's ceiling measurement (package ceiling). Logf is safe for
// concurrent use; the other methods are not.
type Host struct {
	// Bin is the executable started as `Bin serve ...`: concbench-serve when
	// it is beside concbench (launch.ServerBinary).
	Bin string
	// Self is the concbench executable, started as `Self attack ...` for the
	// generator shards of --generators N (concbench-serve has no attack).
	Self string
	// Env describes the machine, the build and the pinning, with
	// LoadgenGOMAXPROCS as pinned.
	Env     result.Environment
	pin     pinning
	restore func()
	prog    *progress
}

// NewHost finds the binaries (Self: opts.Binary, default this executable;
// Bin: launch.ServerBinary of it, concbench-serve beside it, else itself),
// pins this
// process as opts.ServerCPUs and opts.LoadgenCPUs say and records the
// environment with opts.Version and opts.Commit; it logs to opts.Log. Close
// undoes the pinning. The other fields of opts are not read.
func NewHost(opts Options) (*Host, error) {
	h := &Host{Self: opts.Binary, prog: newProgress(opts.Log, opts.Terminal)}
	if h.Self == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the concbench executable: %w", err)
		}
		h.Self = exe
	}
	h.Bin = launch.ServerBinary(h.Self)
	h.Env = Environment(opts.Version, opts.Commit)
	h.Env.ServerBinary = h.Bin
	pin, restore, err := setupPinning(opts.ServerCPUs, opts.LoadgenCPUs)
	if err != nil {
		return nil, err
	}
	h.pin, h.restore = pin, restore
	h.Env.Pinning = pin.rec
	h.Env.LoadgenGOMAXPROCS = runtime.GOMAXPROCS(0)
	return h, nil
}

// Close restores this process's CPU affinity and GOMAXPROCS.
func (h *Host) Close() { h.restore() }

// Logf prints one line of progress.
func (h *Host) Logf(format string, args ...any) { h.prog.logf(format, args...) }

// LogPinning prints where the server and the generator run.
func (h *Host) LogPinning() {
	rec := h.pin.rec
	h.prog.logf("pinning: server CPUs %s, load generator CPUs %s%s", orNone(rec.ServerCPUs), orNone(rec.LoadgenCPUs), noteSuffix(rec.Note))
}

// LoadgenCPUs returns the CPUs this process is pinned to (none: not pinned),
// on which a helper such as wrk should run (cpuset.StartOn).
func (h *Host) LoadgenCPUs() cpuset.Set {
	set, _ := cpuset.Parse(h.pin.rec.LoadgenCPUs) // written by setupPinning from a Set
	return set
}

// Server is a `concbench serve` child started by Host.StartServer. Its
// methods are not safe for concurrent use.
type Server struct{ s *server }

// StartServer starts `concbench serve --model model` on a free loopback port,
// pinned as the host's servers are, with the default settings, and waits until
// it answers /healthz.
func (h *Host) StartServer(ctx context.Context, model string) (*Server, error) {
	args := launch.Command{Model: model, Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: serverGrace}, CPUs: h.pin.serverCPUs}.Args()
	spec := launchSpec{argv: append([]string{h.Bin}, args...), self: true, health: "/healthz", startTimeout: startTimeout, stats: true}
	s, err := startServer(ctx, spec, h.pin.serverSet, false)
	if err != nil { // s, if any, is stopped: its stderr is in err
		return nil, err
	}
	return &Server{s}, nil
}

// URL returns the server's http:// URL of path.
func (s *Server) URL(path string) string { return s.s.url(path) }

// Stats reads the server's /stats.
func (s *Server) Stats(ctx context.Context) (*stats.Snapshot, error) { return s.s.stats(ctx) }

// Stop stops the server as a cell's server is stopped (SIGTERM, then the
// group killed after a grace) and waits, bounded, for its connections to
// drain, so that the next server starts on a quiet machine. It returns how the
// stop went.
func (s *Server) Stop() error {
	err := s.s.stop()
	drain(s.s.port())
	return err
}
