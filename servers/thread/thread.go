// Package thread is the thread-per-request model, the way Apache's worker MPMs
// serve: every in-flight request holds an OS thread of its own for its whole
// life, so a request waiting for I/O keeps its thread asleep and concurrency
// is bounded by how many threads the server allows (Config.MaxThreads, like
// Apache's MaxRequestWorkers).
//
// The HTTP stack is fasthttp's. Its connection goroutines are not threads, so
// the model is made explicit in the handler: a request first takes one of
// MaxThreads slots, then locks its goroutine to its OS thread
// (runtime.LockOSThread) until it has been answered. A locked thread that
// sleeps runs nothing else, so while requests wait for I/O the Go runtime has
// to start a new thread for every further request, exactly as a thread pool
// would; the threads stay in the runtime's pool afterwards, like Apache's
// spare workers.
//
// What the thread does not hold: fasthttp reads a request's header and writes
// its answer on the connection's goroutine, outside the handler, so those run
// unlocked. Apache's worker holds its thread for them too. Locking from
// fasthttp's ConnState hook (StateActive to StateIdle) would cover them, but a
// request waiting for a slot would then hold a thread as well, so threads
// would grow past MaxThreads when it is saturated, which Apache's do not. The
// difference shows only with slow clients (a header trickling in costs a
// goroutine here, a worker thread in Apache); an answer of this route table
// fits the socket buffer, so writing it does not wait.
//
// Requests beyond MaxThreads wait for a slot, as they wait in Apache's listen
// queue when every worker is busy. Here the wait is on a parked goroutine, not
// on a thread: a waiting request costs a goroutine and its connection, not a
// thread.
package thread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Model is the model's name, as reported in /stats.
const Model = "thread"

// Limits of the HTTP stack.
const (
	// ReadBufferSize bounds a request's header block: a larger one is answered 431.
	ReadBufferSize = 8192
)

// The timeouts of servers.Config map onto fasthttp's as follows: its
// ReadTimeout (the wait for a new connection's first byte, and for a whole
// header block from its first byte) is HeadersTimeout; once the header is in,
// HeaderReceived gives the body RequestTimeout more; IdleTimeout is
// KeepAliveTimeout.

// Server serves the workloads route table with a thread per request.
type Server struct {
	cfg   servers.Config
	stats *servers.Stats
	// slots holds one token per request holding a thread; its capacity is cfg.MaxThreads.
	slots chan struct{}
}

var _ servers.Server = (*Server)(nil)

// New checks cfg and returns a server; it does not listen yet.
func New(cfg servers.Config) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, stats: servers.NewStats(Model), slots: make(chan struct{}, cfg.MaxThreads)}, nil
}

// Serve implements servers.Server. It serves until ctx is cancelled, then
// closes the listener and idle connections and waits up to cfg.Grace for
// in-flight requests before closing the rest. Serve is meant to be called
// once per Server.
func (s *Server) Serve(ctx context.Context, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if s.cfg.PprofAddr != "" {
		a, err := servers.ServePprof(ctx, s.cfg.PprofAddr, nil)
		if err != nil {
			_ = ln.Close()
			return err
		}
		s.cfg.PprofServing(a)
	}

	// The thread watch outlives ctx: the drain is part of the run.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	var watch sync.WaitGroup
	watch.Go(func() { s.stats.WatchThreads(watchCtx, 10*time.Millisecond) })
	defer watch.Wait()
	defer stopWatch()

	var conns connSet
	fs := NewFasthttpServer(s.cfg, s.handle)
	fs.ErrorHandler = s.handleError
	fs.ConnState = conns.track
	fs.Logger = logger{s.cfg.Log}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(servers.StrictListener(servers.RetryListener(ln, s.cfg.Log))) }()
	s.cfg.Log.Info("serving", "model", Model, "addr", ln.Addr().String(), "max_threads", s.cfg.MaxThreads)
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case err := <-served:
		_ = ln.Close()
		return err
	case <-ctx.Done():
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	if err := fs.ShutdownWithContext(graceCtx); err != nil {
		n := conns.closeAll()
		s.cfg.Log.Warn("grace period over, closed remaining connections", "grace", s.cfg.Grace, "conns", n, "err", err)
	}
	// ShutdownWithContext returns at once if fs.Serve has not registered ln
	// yet; closing it here makes fs.Serve return in every case.
	_ = ln.Close()
	return <-served // nil once the listener is closed
}

// NewFasthttpServer returns the fasthttp server the model runs, serving h:
// its buffers, limits and timeouts from cfg (which must have its defaults).
// The bare fasthttp server of `make bench-overhead` (internal/bare) runs the
// same, so that the model's ratio to it is the cost of the model's own code
// (routing, counters, threads, strict framing), not of the library settings
// that protect it from slow clients. The model adds its error handler,
// connection tracking and logger.
func NewFasthttpServer(cfg servers.Config, h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler: h,
		Name:    "concbench",
		// The model's own limit is MaxThreads; fasthttp's per-connection
		// limit is left at its (high) default so it never answers 503 first.
		Concurrency:    fasthttp.DefaultConcurrency,
		ReadBufferSize: ReadBufferSize,
		ReadTimeout:    cfg.HeadersTimeout,
		IdleTimeout:    cfg.KeepAliveTimeout,
		// Only a request with a body reads on after its header block, and
		// moving the deadline is a timer change per request (~3 % of CPU
		// on /plain at the peak, issue 15): a request without a body
		// keeps the header's deadline, which nothing reads under.
		HeaderReceived: func(hd *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if n := hd.ContentLength(); n > 0 || n == -1 { // -1: chunked
				return fasthttp.RequestConfig{ReadTimeout: cfg.RequestTimeout}
			}
			return fasthttp.RequestConfig{}
		},
		// fasthttp's default is 4 MiB, buffered per connection.
		MaxRequestBodySize: servers.MaxBodyBytes,
		CloseOnShutdown:    true,
		// Answer after the full request is read, but never parse forms or
		// keep bodies: no route reads one.
		DisablePreParseMultipartForm: true,
	}
}

// handle serves one request on its connection's goroutine, which holds a
// thread slot and its locked OS thread while the request runs. The response is
// rendered into fasthttp's buffer before the thread is released; fasthttp
// writes it to the socket after handle returns.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.stats.Begin()
	// Parse retains none of its arguments, so the strings may alias ctx's
	// buffers; they are not used after it returns.
	req, perr := workloads.Parse(unsafeString(ctx.Method()), unsafeString(ctx.Path()), unsafeString(ctx.URI().QueryString()))
	if perr == nil && req.Route == workloads.RouteStats {
		// /stats takes no thread slot, so that the server can be watched
		// while it is saturated.
		snap := s.stats.Snapshot()
		snap.MaxThreads = s.cfg.MaxThreads
		resp := statsResponse(snap)
		s.stats.End(req.Route, resp.Status)
		write(ctx, resp)
		return
	}

	s.slots <- struct{}{} // wait, parked, for a thread slot
	defer func() { <-s.slots }()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var resp workloads.Response
	route := workloads.NumRoutes
	if perr != nil {
		resp = workloads.ErrorResponse(perr)
	} else {
		route, resp = req.Route, workloads.RunBlocking(req)
	}
	s.stats.End(route, resp.Status)
	write(ctx, resp)
}

// Error answers of the HTTP stack, one line each.
var (
	errTooLarge   = workloads.Response{Status: 431, ContentType: workloads.TextPlain, Body: []byte("request header too large\n")}
	errBodyLarge  = workloads.Response{Status: 413, ContentType: workloads.TextPlain, Body: []byte("request body too large\n")}
	errTimeout    = workloads.Response{Status: 408, ContentType: workloads.TextPlain, Body: []byte("request timeout\n")}
	errBadRequest = workloads.Response{Status: 400, ContentType: workloads.TextPlain, Body: []byte("malformed request\n")}
)

// handleError answers a request fasthttp could not read or parse; fasthttp
// then closes the connection. These answers are not counted in /stats: like
// net/http's own 400s, they never reach the route table.
func (s *Server) handleError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		write(ctx, errTooLarge)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		write(ctx, errBodyLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		write(ctx, errTimeout)
	default:
		write(ctx, errBadRequest)
	}
}

// write renders resp the way every model does: Content-Type, Content-Length,
// Retry-After and Allow when set; fasthttp adds Server (its Name) and Date.
func write(ctx *fasthttp.RequestCtx, resp workloads.Response) {
	ctx.SetStatusCode(resp.Status)
	ctx.SetContentType(resp.ContentType)
	if resp.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(resp.RetryAfter))
	}
	if resp.Allow != "" {
		ctx.Response.Header.Set("Allow", resp.Allow)
	}
	ctx.SetBody(resp.Body) // copies; sets Content-Length
}

// statsResponse renders /stats.
func statsResponse(snap stats.Snapshot) workloads.Response {
	b, err := json.Marshal(snap)
	if err != nil { // a Snapshot has no values JSON refuses
		return workloads.Response{Status: 500, ContentType: workloads.TextPlain, Body: []byte("stats: " + err.Error() + "\n")}
	}
	return workloads.Response{Status: 200, ContentType: workloads.JSON, Body: append(b, '\n')}
}

// unsafeString returns b as a string without copying; b must not change while
// the string is in use.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// connSet tracks open connections, so that those still busy when the grace
// period is over can be closed: fasthttp's ShutdownWithContext leaves them
// running.
type connSet struct {
	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func (cs *connSet) track(c net.Conn, state fasthttp.ConnState) {
	// fasthttp reports Active and Idle around every request: leave before
	// taking the lock, which only the opening and closing states need.
	switch state {
	case fasthttp.StateNew, fasthttp.StateClosed, fasthttp.StateHijacked:
	default:
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch state {
	case fasthttp.StateNew:
		if cs.conns == nil {
			cs.conns = make(map[net.Conn]struct{})
		}
		cs.conns[c] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(cs.conns, c)
	}
}

// closeAll closes every tracked connection and returns how many there were.
func (cs *connSet) closeAll() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		_ = c.Close()
	}
	return len(cs.conns)
}

// logger sends fasthttp's log lines to the server's logger.
type logger struct{ l *slog.Logger }

func (l logger) Printf(format string, args ...any) {
	l.l.Warn(fmt.Sprintf(format, args...), "stack", "fasthttp")
}
