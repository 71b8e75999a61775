package runner

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/reference"
)

// launchSpec says how one cell's server is started and how the runner knows
// it is up. Every kind of server goes through it: a Go model (`concbench
// serve`), a reference system (Node.js, Apache httpd), a user server started
// by the plan's command, and a running server the run attaches to.
type launchSpec struct {
	argv []string // the program and its arguments
	// self: argv[0] is concbench or concbench-serve (Host.Bin), recorded by
	// its name alone.
	self bool
	env  []string // KEY=VALUE, added to this process's environment
	dir  string   // working directory ("": this process's)
	// addr is where the server listens, when it is chosen before the start
	// (user servers, Apache, an attached target); empty: the server
	// announces it on stdout (launch.Announced).
	addr string
	// health is the path polled until it answers 200.
	health string
	// startTimeout bounds the wait for the announce line and for health.
	startTimeout time.Duration
	// stats: the server answers /stats in concbench's schema (stats.Snapshot).
	stats bool
	// attach: nothing is started; the server at addr runs already, and pid
	// (0: unknown) is its process, sampled when known.
	attach bool
	pid    int
	// cleanup removes what the launch wrote (e.g. Apache's configuration)
	// once the server is stopped; nil when there is nothing.
	cleanup func()
}

// launchFor returns how to start model for one cell. It fails when model
// cannot run here (a reference whose program is missing).
func (r *cellRunner) launchFor(model string) (launchSpec, error) {
	p := &r.opts.Plan
	if t := p.Target; t != nil && t.Name == model {
		u, err := url.Parse(t.URL)
		if err != nil {
			return launchSpec{}, fmt.Errorf("target: %w", err)
		}
		return launchSpec{addr: u.Host, attach: true, pid: t.PID, health: "/", startTimeout: startTimeout}, nil
	}
	if us, ok := p.UserServer(model); ok {
		port, err := freePort()
		if err != nil {
			return launchSpec{}, err
		}
		argv, env := us.Expand(port)
		return launchSpec{
			argv: argv, env: env, dir: us.Dir,
			addr:         net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			health:       us.Health,
			startTimeout: us.StartTimeout.D(),
		}, nil
	}
	e, ok := catalog.Lookup(model)
	if !ok {
		return launchSpec{}, fmt.Errorf("unknown model %q", model)
	}
	settings := launch.Settings{Addr: "127.0.0.1:0", Grace: serverGrace, Tuning: p.Server}
	switch {
	case e.Kind == catalog.GoModel:
		c := r.serveCommand(model)
		return launchSpec{argv: append([]string{r.bin}, c.Args()...), self: true, health: "/healthz", startTimeout: startTimeout, stats: true}, nil
	case e.Kind == catalog.Reference && model == reference.ApacheWorker:
		return apacheLaunch(settings)
	case e.Kind == catalog.Reference:
		cmd, err := reference.NodeCommand(model, settings)
		if err != nil {
			return launchSpec{}, err
		}
		return launchSpec{argv: append([]string{cmd.Path}, cmd.Args[1:]...), health: "/healthz", startTimeout: startTimeout, stats: true}, nil
	}
	return launchSpec{}, fmt.Errorf("model %q (%s) cannot be started by the runner", model, e.Kind)
}

// apacheLaunch writes an Apache configuration for one cell into a fresh
// temporary directory (Apache's child, which serves as nobody when this runs
// as root, must be able to read it) on a port chosen now: Apache cannot
// announce one it chose.
func apacheLaunch(s launch.Settings) (launchSpec, error) {
	port, err := freePort()
	if err != nil {
		return launchSpec{}, err
	}
	dir, err := os.MkdirTemp("", "concbench-apache-")
	if err != nil {
		return launchSpec{}, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	files, err := reference.WriteApacheConfig(dir, "", port, servers.Config{Settings: s})
	if err == nil {
		c, cerr := reference.ApacheCommand(files.Conf)
		if err = cerr; err == nil {
			return launchSpec{
				argv:         append([]string{c.Path}, c.Args[1:]...),
				env:          c.Env,
				addr:         net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
				health:       "/healthz",
				startTimeout: startTimeout,
				stats:        true,
				cleanup:      cleanup,
			}, nil
		}
	}
	cleanup()
	return launchSpec{}, err
}

// record is the command line results.json keeps for a cell's server: the
// servers' binary by its name, "concbench-serve" or "concbench" (its path is
// the machine's, not the run's; the two take the same command line),
// other programs as started, an attached target as its URL.
func record(ls launchSpec) []string {
	switch {
	case ls.attach:
		return []string{"attached", "http://" + ls.addr}
	case ls.self:
		return append([]string{filepath.Base(ls.argv[0])}, ls.argv[1:]...)
	}
	return slices.Clone(ls.argv)
}

// freePort returns a loopback port free right now. Another process could take
// it before the server binds it; the server then fails to start and the cell
// says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// unavailable returns, for every model of the plan that cannot run on this
// machine, why: references whose program is missing are skipped with the
// install command, never failed. A user server whose command cannot run is an
// error of the plan, returned as such.
func unavailable(p *plan.Plan) (map[string]string, error) {
	skip := map[string]string{}
	for _, m := range p.Models {
		if us, ok := p.UserServer(m); ok {
			if err := us.Executable(); err != nil {
				return nil, err
			}
			continue
		}
		if e, ok := catalog.Lookup(m); ok && e.Kind == catalog.Reference {
			if err := reference.Check(m); err != nil {
				skip[m] = err.Error()
			}
		}
	}
	return skip, nil
}

// without returns models less the skipped ones, in order.
func without(models []string, skip map[string]string) []string {
	return slices.DeleteFunc(slices.Clone(models), func(m string) bool { _, ok := skip[m]; return ok })
}
