// Package goroutine is Go's native concurrency model and the reference row of
// every comparison: net/http, one goroutine per connection. A request that
// waits parks its goroutine, not a thread, and CPU work is spread over
// GOMAXPROCS threads by the Go scheduler, which preempts long computations.
package goroutine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Model is the model's name, as reported in /stats.
const Model = "goroutine"

// Limits of the HTTP stack. net/http reads up to MaxHeaderBytes plus 4 KiB of
// slack before it answers 431, so a header block between 8 and 12 KiB passes
// here but not in the fasthttp-based models.
// The timeouts are servers.Config's: ReadHeaderTimeout is HeadersTimeout,
// ReadTimeout (header and body) RequestTimeout, IdleTimeout KeepAliveTimeout.
const MaxHeaderBytes = 8192

// Server serves the workloads route table with net/http.
type Server struct {
	cfg   servers.Config
	stats *servers.Stats
}

var _ servers.Server = (*Server)(nil)

// New checks cfg and returns a server; it does not listen yet.
func New(cfg servers.Config) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, stats: servers.NewStats(Model)}, nil
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

	hs := NewHTTPServer(s.cfg, http.HandlerFunc(s.handle))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(servers.StrictListener(servers.RetryListener(ln, s.cfg.Log))) }()
	s.cfg.Log.Info("serving", "model", Model, "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case err := <-served: // hs.Serve closed ln itself
		return err
	case <-ctx.Done():
	}
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	if err := hs.Shutdown(graceCtx); err != nil {
		s.cfg.Log.Warn("grace period over, closing remaining connections", "grace", s.cfg.Grace, "err", err)
		_ = hs.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NewHTTPServer returns the net/http server the model runs, serving h: its
// limits and timeouts from cfg (which must have its defaults). The bare
// net/http server of `make bench-overhead` (internal/bare) runs the same, so
// that the model's ratio to it is the cost of the model's own code (routing,
// counters, strict framing, response writing), not of the library settings
// that protect it from slow clients.
func NewHTTPServer(cfg servers.Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: cfg.HeadersTimeout,
		ReadTimeout:       cfg.RequestTimeout,
		IdleTimeout:       cfg.KeepAliveTimeout,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
}

// handle serves one request on the connection's goroutine.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.stats.Begin()
	var resp workloads.Response
	route := workloads.NumRoutes
	if r.ContentLength > servers.MaxBodyBytes {
		// No route reads a body; net/http would discard up to 256 KiB of
		// it after the answer, then close. Refuse it like the others do.
		w.Header().Set("Connection", "close")
		s.stats.End(route, http.StatusRequestEntityTooLarge)
		write(w, workloads.Response{Status: http.StatusRequestEntityTooLarge, ContentType: workloads.TextPlain, Body: []byte("request body too large\n")})
		return
	}
	if r.ContentLength != 0 {
		// No route reads a body, but net/http closes a connection whose
		// unread body is over 256 KiB after the answer; Node and the other
		// models discard it and keep the connection. Bounded by the check
		// above and by RequestTimeout; an error leaves it to net/http.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	req, perr := workloads.Parse(r.Method, cleanPath(r.URL.Path), r.URL.RawQuery)
	switch {
	case perr != nil:
		resp = workloads.ErrorResponse(perr)
	case req.Route == workloads.RouteStats:
		route, resp = req.Route, statsResponse(s.stats.Snapshot())
	default:
		route, resp = req.Route, workloads.RunBlocking(req)
	}
	s.stats.End(route, resp.Status)
	write(w, resp)
}

// cleanPath resolves "." and ".." segments and collapses repeated slashes,
// keeping a trailing slash, as fasthttp (the thread model) and httpwire (the
// loop models) do, so that "/plain/../cpu" and "//plain" get the same answer
// from every model. net/http leaves that to its ServeMux, which is not used.
func cleanPath(p string) string {
	if p == "" || p == "/" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// write renders resp the way every model does: Content-Type, Content-Length,
// Retry-After and Allow when set, and Server; net/http adds Date (and
// Connection when it closes).
func write(w http.ResponseWriter, resp workloads.Response) {
	h := w.Header()
	h.Set("Server", "concbench")
	h.Set("Content-Type", resp.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	if resp.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(resp.RetryAfter))
	}
	if resp.Allow != "" {
		h.Set("Allow", resp.Allow)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body) // a write error means the client went away
}

// statsResponse renders /stats.
func statsResponse(snap stats.Snapshot) workloads.Response {
	b, err := json.Marshal(snap)
	if err != nil { // a Snapshot has no values JSON refuses
		return workloads.Response{Status: 500, ContentType: workloads.TextPlain, Body: []byte("stats: " + err.Error() + "\n")}
	}
	return workloads.Response{Status: 200, ContentType: workloads.JSON, Body: append(b, '\n')}
}
