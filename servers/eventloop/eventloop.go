// Package eventloop is the Node.js model: one gnet event loop, on one locked OS
// thread, runs every handler. Waiting for I/O (/io) costs the loop nothing: a
// timer posts the completion back onto it. CPU work (/cpu, /regex) runs on the
// loop and stalls every other connection until it is done, and so does
// /io?mode=block, the anti-pattern of a synchronous wait on the loop.
//
// Chunked /cpu hands control back between chunks the two ways Node does:
// defer=tick queues the next chunk on a loop-local microtask queue that is
// drained completely before the loop polls again (process.nextTick: nobody gets
// in between), defer=loop queues it behind the I/O events that are ready
// (setImmediate: other requests run between chunks).
//
// The loop's lateness is sampled every 10 ms like Node's monitorEventLoopDelay
// and reported in /stats as loop_delay.
//
// The offload model is this server with an [Offloader] (see [WithOffloader]);
// the cluster model runs this server in each child process on one shared port
// (see [WithReusePort]).
//
// # gnet facts this package relies on (v2.9.7, read in its source)
//
//   - EventLoop.Execute queues a task that the loop runs after the I/O events of
//     its current epoll round. Tasks go to a queue that the loop drains until it
//     is empty, including tasks queued while it drains: a task that re-posts
//     itself with Execute runs again before any I/O is looked at. Execute is
//     therefore a good way back onto the loop (completions, the delay probe) but
//     not setImmediate. This package gets setImmediate from a socketpair
//     enrolled in the loop (see sched.go): its readiness is an I/O event like
//     any client's.
//   - Conn.Write on the loop writes with write(2) at once and keeps what the
//     socket does not take in the connection's outbound buffer, arming EPOLLOUT;
//     no Flush is needed. A runnable passed to Execute runs on the loop, so it
//     uses Write too: AsyncWrite would only queue one more task to call Write.
//   - There is no "engine started" callback: OnBoot runs before the event loops
//     exist, so the first safe moment to Register a connection is the first
//     OnTick, whose goroutine gnet starts after the loops.
//   - Without SO_REUSEPORT gnet runs a separate acceptor goroutine (its "main
//     reactor", a second locked thread) that accepts every pending connection
//     in a burst and hands them to the loop, and an accept(2) that fails with
//     EMFILE shuts the whole engine down. With it, the loop accepts one
//     connection per readiness event by itself, like Node's, and OnOpen can
//     refuse a connection before the next accept. So this server always asks
//     gnet for SO_REUSEPORT, and unless [WithReusePort] says the port is
//     meant to be shared, first checks that nobody listens on it.
//   - gnet has no "writable again" callback: a connection paused because its
//     client does not read is re-checked from a loop task (housekeep).
package eventloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/httpwire"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Model is the model's name, as reported in /stats.
const Model = "eventloop"

// ProbeInterval is how often the loop-delay probe is posted (Node's
// monitorEventLoopDelay samples every 10 ms too).
const ProbeInterval = 10 * time.Millisecond

// MaxPipelineBacklog bounds the bytes a client may send behind a request that
// is still being answered. The loop stops parsing a connection while one of its
// requests is pending, and gnet keeps whatever else arrives in the connection's
// inbound buffer, which has no limit of its own; past this many bytes the
// connection is closed instead.
const MaxPipelineBacklog = 4 << 20

// MaxOutbound bounds the answers a connection may have written but its client
// not yet read: past it the loop stops parsing the connection's requests
// until the backlog drains below half of it (Node pauses its parser the same
// way when a socket's write buffer is full). While paused, what the client
// sends piles up in the inbound buffer, bounded by MaxPipelineBacklog.
const MaxOutbound = 256 << 10

// fdHeadroom is how many descriptors below RLIMIT_NOFILE the server keeps
// free: connections that would take one of them are closed at once.
func fdHeadroom(limit int) int { return min(64, limit/4) }

// An Offloader runs CPU-bound handlers (/cpu and /regex) away from the loop.
type Offloader interface {
	// TrySubmit queues job to run on another goroutine and reports true, or
	// reports false at once, without running it, when it cannot take more
	// work. It is called on the loop, so it must never block. job owns
	// everything it touches: nothing in it aliases gnet's buffers.
	TrySubmit(job func()) bool
	// Stats reports the offloader's figures for /stats. It is called on the
	// loop and must be safe for concurrent use with the workers.
	Stats() stats.PoolStats
}

// An Option configures a Server beyond servers.Config.
type Option func(*options)

type options struct {
	reusePort bool
	offloader Offloader
	model     string
	statsFunc func() (stats.Snapshot, error)
}

// WithReusePort sets SO_REUSEPORT on the listening socket (default off), so
// that several processes can each run a Server on the same address and have the
// kernel spread connections over them: the cluster model's children. All of
// them must run as the same user, and the address must name a real port: with
// port 0 each would get a port of its own.
//
// Without it, Serve fails when something already listens on the address.
// Either way the loop accepts connections itself, as Node's does.
func WithReusePort(on bool) Option { return func(o *options) { o.reusePort = on } }

// WithOffloader runs /cpu and /regex on off instead of the loop; everything
// else stays on the loop. Completions come back onto the loop with
// EventLoop.Execute. A full offloader answers 503 with Retry-After: 1.
func WithOffloader(off Offloader) Option { return func(o *options) { o.offloader = off } }

// WithModel sets the model name reported in /stats (default [Model]).
func WithModel(name string) Option { return func(o *options) { o.model = name } }

// WithStatsFunc makes /stats answer f's snapshot instead of this server's own
// (a cluster child answers with the whole cluster's). f runs on a goroutine of
// its own, never on the loop, so it may block, e.g. to ask a supervisor; its
// answer is posted back onto the loop like an /io completion. An error answers
// 503. [Server.Snapshot] gives f this process's own figures.
func WithStatsFunc(f func() (stats.Snapshot, error)) Option {
	return func(o *options) { o.statsFunc = f }
}

// Server is the event-loop server. Serve is meant to be called once; Snapshot
// is safe for concurrent use at any time.
type Server struct {
	gnet.BuiltinEventEngine

	cfg   servers.Config
	opts  options
	stats *servers.Stats
	delay *servers.Histogram // loop delay, recorded on the loop by the probe

	serving atomic.Bool // Serve was called
	// stopping is set once the engine is being stopped: completions that can
	// no longer reach the loop are expected then, not worth a log line.
	stopping atomic.Bool

	// Set during start-up and read only after started is closed (or, for
	// eng, addr and bootErr, after gnet.Run returned).
	eng      gnet.Engine
	addr     *net.TCPAddr
	bootErr  error
	loop     gnet.EventLoop // the one loop, from the wake connection
	startErr error          // the wake connection could not be registered
	started  chan struct{}
	quit     chan struct{} // closed when Serve returns: stops start-up waits
	tick     sync.Once     // the first OnTick starts the registration

	// wakeFD is this side of the socketpair whose other side is enrolled in
	// the loop (-1 when there is none); the loop writes to it.
	wakeFD atomic.Int64

	// Owned by the loop goroutine: only gnet callbacks and runnables touch
	// these, and there is exactly one loop.
	parser    httpwire.Parser
	out       []byte                  // scratch buffer for one rendered answer
	sched     scheduler               // microtasks and immediates, see sched.go
	conns     map[*connState]struct{} // open client connections
	current   *connState              // the connection whose OnTraffic is running
	toClose   []*connState            // connections to close when the callback ends
	draining  bool                    // shutting down: no new connections, no keep-alive
	closeSelf bool                    // the current connection must be closed on return
	paused    map[*connState]struct{} // connections whose output is above MaxOutbound
	clock     time.Time               // coarse time, advanced by housekeep
	lastSweep time.Time               // when housekeep last checked the timeouts
	date      string                  // the Date header, redone each second
	dateSec   int64

	sweepEvery time.Duration // how often the timeouts are checked
	fdLimit    int           // RLIMIT_NOFILE when Serve started (0: unknown)
	refused    atomic.Uint64 // connections closed for want of descriptors
}

var _ servers.Server = (*Server)(nil)

// New checks cfg and returns a server; it does not listen yet.
func New(cfg servers.Config) (*Server, error) { return NewWithOptions(cfg) }

// NewWithOptions is New with options for the models built on this one.
func NewWithOptions(cfg servers.Config, opts ...Option) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	o := options{model: Model}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		cfg:     cfg,
		opts:    o,
		stats:   servers.NewStats(o.model),
		delay:   servers.NewHistogram(),
		started: make(chan struct{}),
		quit:    make(chan struct{}),
		conns:   make(map[*connState]struct{}),
		paused:  make(map[*connState]struct{}),
	}
	s.wakeFD.Store(-1)
	now := time.Now()
	s.clock, s.lastSweep, s.dateSec, s.date = now, now, now.Unix(), now.UTC().Format(http.TimeFormat)
	// The timeouts are checked a few times per shortest timeout, at most
	// once a second (Node checks every 30 s by default, so ours are closer).
	s.sweepEvery = min(time.Second, max(ProbeInterval, min(cfg.HeadersTimeout, cfg.KeepAliveTimeout)/4))
	return s, nil
}

// Snapshot returns this process's /stats figures, with the loop delay and, for
// an offloading server, the pool. It is safe for concurrent use.
func (s *Server) Snapshot() stats.Snapshot {
	snap := s.stats.Snapshot()
	d := s.delay.Summary()
	snap.LoopDelay = &d
	if s.opts.offloader != nil {
		p := s.opts.offloader.Stats()
		snap.Pool = &p
	}
	return snap
}

// Serve implements servers.Server. It binds cfg.Addr, starts the loop and the
// loop-delay probe, and calls ready once the loop runs. When ctx is done it
// stops accepting (new connections are closed at once), closes idle
// connections, answers what is in flight with "Connection: close", waits up to
// cfg.Grace for the in-flight count to reach zero and stops the engine.
func (s *Server) Serve(ctx context.Context, ready func(net.Addr)) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("eventloop: Serve called twice")
	}
	defer close(s.quit)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 1<<30 {
		s.fdLimit = int(lim.Cur)
	}
	if !s.opts.reusePort {
		// gnet's loop accepts by itself only with SO_REUSEPORT, which would
		// let a second server on this port silently take half the
		// connections: make sure nobody listens there first.
		if err := probeBind(s.cfg.Addr); err != nil {
			return fmt.Errorf("eventloop: listen %s: %w", s.cfg.Addr, err)
		}
	}

	runErr := make(chan error, 1)
	go func() {
		runErr <- gnet.Run(s, "tcp://"+s.cfg.Addr,
			gnet.WithMulticore(false),
			gnet.WithNumEventLoop(1),
			gnet.WithLockOSThread(true),
			// Always the loop accepts (see the package doc): gnet's
			// separate acceptor accepts in a burst before the loop can
			// refuse anything, and shuts the engine down on EMFILE.
			gnet.WithReusePort(true),
			// Register is called once, from the ticker goroutine; the default
			// round-robin balancer would race with the acceptor over its
			// counter. With one loop every balancer picks it.
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{s.cfg.Log}),
		)
	}()

	select {
	case err := <-runErr: // never started: bind failed, or OnBoot refused
		return s.runFailed(err)
	case <-s.started:
	}
	defer s.closeWake()
	if s.startErr != nil {
		s.stopEngine(runErr)
		return fmt.Errorf("eventloop: %w", s.startErr)
	}

	// The helpers outlive ctx: the drain is part of the run.
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var helpers sync.WaitGroup
	defer helpers.Wait()
	defer stopBg()
	if s.cfg.PprofAddr != "" {
		a, err := servers.ServePprof(bg, s.cfg.PprofAddr, nil)
		if err != nil {
			s.stopEngine(runErr)
			return err
		}
		s.cfg.PprofServing(a)
	}
	helpers.Go(func() { s.stats.WatchThreads(bg, 10*time.Millisecond) })
	helpers.Go(func() { s.probe(bg) })

	s.cfg.Log.Info("serving", "model", s.opts.model, "addr", s.addr.String(), "reuseport", s.opts.reusePort)
	if ready != nil {
		ready(s.addr)
	}

	select {
	case err := <-runErr: // the engine stopped by itself
		s.stopping.Store(true)
		if err == nil {
			err = errors.New("event loop stopped unexpectedly")
		}
		return fmt.Errorf("eventloop: %w", err)
	case <-ctx.Done():
	}
	s.drain()
	// The helpers end before the engine does, so that once gnet closes the
	// connections left over there is nothing left to do but return.
	stopBg()
	helpers.Wait()
	s.stopEngine(runErr)
	return nil
}

// probeBind fails when something already listens on addr. Port 0 always
// gets a fresh port, so it is not probed.
func probeBind(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p == 0 {
			return nil
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// runFailed turns gnet.Run's early return into Serve's error.
func (s *Server) runFailed(err error) error {
	switch {
	case s.bootErr != nil:
		return fmt.Errorf("eventloop: %w", s.bootErr)
	case err != nil:
		return fmt.Errorf("eventloop: listen %s: %w", s.cfg.Addr, err)
	default:
		return errors.New("eventloop: engine stopped before it started")
	}
}

// drain stops taking work and waits up to the grace period for in-flight
// requests.
func (s *Server) drain() {
	if err := s.loop.Execute(context.Background(), s.runnable(s.startDrain)); err != nil {
		s.cfg.Log.Warn("cannot start draining on the loop", "err", err)
		return
	}
	deadline := time.Now().Add(s.cfg.Grace)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := s.stats.Snapshot().InFlight
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.cfg.Log.Warn("grace period over, closing connections with requests in flight", "grace", s.cfg.Grace, "in_flight", n)
			return
		}
		<-tick.C
	}
}

// startDrain runs on the loop: from now on new connections are closed as soon
// as they open and every answer closes its connection; idle connections are
// closed now.
func (s *Server) startDrain() {
	s.draining = true
	for cs := range s.conns {
		if !cs.pending {
			s.closeConn(cs)
		}
	}
}

// stopEngine stops gnet and waits for gnet.Run to return. Engine.Stop starts
// the shutdown and then polls for its end every 500 ms; given a context that is
// already cancelled it only starts it (and returns the context's error), and
// Run's return says when it is over.
func (s *Server) stopEngine(runErr <-chan error) {
	s.stopping.Store(true)
	now, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.eng.Stop(now); err != nil && !errors.Is(err, context.Canceled) {
		s.cfg.Log.Warn("engine stop", "err", err)
	}
	if err := <-runErr; err != nil {
		s.cfg.Log.Warn("engine stopped with an error", "err", err)
	}
}

// OnBoot learns the bound address (port 0 included) from a duplicate of the
// listener's descriptor.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	addr, err := boundAddr(eng)
	if err != nil {
		s.bootErr = err
		return gnet.Shutdown
	}
	s.addr = addr
	return gnet.None
}

func boundAddr(eng gnet.Engine) (*net.TCPAddr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("dup listener: %w", err)
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}, nil
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("listener bound to a %T, not TCP", sa)
}

// OnTick runs on gnet's ticker goroutine, which gnet starts after the event
// loop: its first call is the first moment the loop can be registered with.
// Nothing else happens on ticks (they are not on the loop, so their lateness
// says nothing about it).
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.tick.Do(func() { go s.register() })
	return time.Hour, gnet.None
}

// statsResponse renders /stats from snap.
func statsResponse(snap stats.Snapshot, err error) workloads.Response {
	if err != nil {
		return workloads.Response{Status: 503, ContentType: workloads.TextPlain, Body: []byte("stats: " + err.Error() + "\n")}
	}
	b, err := json.Marshal(snap)
	if err != nil { // a Snapshot has no values JSON refuses
		return workloads.Response{Status: 500, ContentType: workloads.TextPlain, Body: []byte("stats: " + err.Error() + "\n")}
	}
	return workloads.Response{Status: 200, ContentType: workloads.JSON, Body: append(b, '\n')}
}

// gnetLogger sends gnet's log lines to the server's logger.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) log(level slog.Level, format string, args []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, "gnet: "+fmt.Sprintf(format, args...))
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }
func (g gnetLogger) Infof(format string, args ...any)  { g.log(slog.LevelInfo, format, args) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.log(slog.LevelWarn, format, args) }
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }

// Fatalf logs at error level: a library must not end the process.
func (g gnetLogger) Fatalf(format string, args ...any) { g.log(slog.LevelError, format, args) }

// Adopt hands the loop c, a connection accepted elsewhere (a cluster child is
// handed its connections by the supervisor), and returns once the loop has
// opened it: OnOpen has run on the loop, so a loop that is busy holds the
// caller up until it comes round. A cluster child acknowledges a connection
// only then, which is how its supervisor tells a free child from a blocked one,
// as Node's workers acknowledge a handed connection from their loop.
//
// The loop serves a duplicate of c's descriptor; c itself is closed either way.
// Adopt may be called once Serve has called ready, from any goroutine; it
// fails once the server is stopping, or when ctx is done first (the connection
// may then still open later).
func (s *Server) Adopt(ctx context.Context, c net.Conn) error {
	select {
	case <-s.started:
	default:
		_ = c.Close()
		return errors.New("eventloop: Adopt called before the loop runs")
	}
	if s.startErr != nil || s.stopping.Load() {
		_ = c.Close()
		return errors.New("eventloop: Adopt: the loop is not serving")
	}
	// gnet's Enroll closes c in all the cases where it gets to run; only when
	// it returns an error at once has nothing taken c over.
	res, err := s.loop.Enroll(ctx, c)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("eventloop: adopt: %w", err)
	}
	select {
	case r := <-res:
		if r.Err != nil {
			return fmt.Errorf("eventloop: adopt: %w", r.Err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errors.New("eventloop: adopt: server stopped")
	}
}
