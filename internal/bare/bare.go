// Package bare holds hello servers written straight on the libraries the
// models are built on (gnet, fasthttp, net/http), each answering every request
// with the bytes a model sends for /plain: status line, the same headers
// (Server, Content-Type, Content-Length, Date) and body, keep-alive. They are
// the "bare library" rows of `make bench-overhead`: what a model could reach
// if the harness cost nothing, so that the ratio model ÷ bare is the harness's
// own cost. Each runs its library as its model configures it — eventloop's
// engine options (gnet: one loop, its OS thread locked, SO_REUSEPORT; not the
// ticker, logger or balancing that serve the model's own checks), the
// buffers, limits and timeouts of fasthttp and net/http (the models' own
// constructors, with the default settings) — since those are the library's
// costs of serving safely, not the harness's. They are not
// models: no route table, no /stats, no strict framing, no counters, and the
// catalog does not list them.
package bare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fasthttp"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/httpwire"
	"github.com/concbench/concbench/servers/thread"
	"github.com/concbench/concbench/workloads"
)

// Libraries names the bare servers, each beside the models built on it.
var Libraries = []string{"gnet", "fasthttp", "nethttp"}

// Serve serves lib's hello server on addr (host:port, port 0 for any) until
// ctx is done. ready, if not nil, is called with the bound address once it
// accepts connections.
func Serve(ctx context.Context, lib, addr string, ready func(net.Addr)) error {
	if err := launch.CheckLoopback(addr); err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	switch lib {
	case "gnet":
		return serveGnet(ctx, addr, ready)
	case "fasthttp":
		return serveFasthttp(ctx, addr, ready)
	case "nethttp":
		return serveNetHTTP(ctx, addr, ready)
	}
	return fmt.Errorf("bare: unknown library %q (one of gnet, fasthttp, nethttp)", lib)
}

// defaults is the models' configuration with every default setting.
func defaults() (servers.Config, error) {
	return servers.Config{}.WithDefaults()
}

// serveNetHTTP: the goroutine model's net/http server and headers, written
// the way its write does.
func serveNetHTTP(ctx context.Context, addr string, ready func(net.Addr)) error {
	cfg, err := defaults()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(workloads.PlainBody))
	hs := goroutine.NewHTTPServer(cfg, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Server", "concbench")
		h.Set("Content-Type", workloads.TextPlain)
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(workloads.PlainBody)
	}))
	if ready != nil {
		ready(ln.Addr())
	}
	go func() { <-ctx.Done(); _ = hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveFasthttp: the thread model's fasthttp server and headers (fasthttp
// adds Server and Date).
func serveFasthttp(ctx context.Context, addr string, ready func(net.Addr)) error {
	cfg, err := defaults()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fs := thread.NewFasthttpServer(cfg, func(c *fasthttp.RequestCtx) {
		c.SetStatusCode(http.StatusOK)
		c.SetContentType(workloads.TextPlain)
		c.SetBody(workloads.PlainBody)
	})
	if ready != nil {
		ready(ln.Addr())
	}
	go func() { <-ctx.Done(); _ = fs.Shutdown() }()
	return fs.Serve(ln)
}

// gnetHello answers every header block it finds with /plain's answer as the
// event-loop models write it (httpwire.AppendResponse, and a Date cached per
// second). Framing is a search for the blank line: wrk sends no bodies.
type gnetHello struct {
	gnet.BuiltinEventEngine
	ready func(net.Addr)
	addr  string
	eng   gnet.Engine
	boot  chan struct{}
	out   []byte
	sec   int64
	date  string
}

func (g *gnetHello) OnBoot(eng gnet.Engine) gnet.Action {
	g.eng = eng
	close(g.boot)
	return gnet.None
}

func (g *gnetHello) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	if now := time.Now(); now.Unix() != g.sec {
		g.sec, g.date = now.Unix(), now.UTC().Format(http.TimeFormat)
	}
	g.out = g.out[:0]
	used := 0
	for {
		i := bytes.Index(buf[used:], []byte("\r\n\r\n"))
		if i < 0 {
			break
		}
		used += i + 4
		g.out = httpwire.AppendResponse(g.out, http.StatusOK, workloads.TextPlain, workloads.PlainBody, false, "Date", g.date)
	}
	_, _ = c.Discard(used)
	if len(g.out) > 0 {
		_, _ = c.Write(g.out)
	}
	return gnet.None
}

func serveGnet(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr) // pick the port (port 0), then hand it to gnet
	if err != nil {
		return err
	}
	bound := ln.Addr()
	_ = ln.Close()
	g := &gnetHello{boot: make(chan struct{})}
	run := make(chan error, 1)
	go func() {
		// The event-loop model's engine settings.
		run <- gnet.Run(g, "tcp://"+bound.String(), gnet.WithMulticore(false), gnet.WithNumEventLoop(1),
			gnet.WithLockOSThread(true), gnet.WithReusePort(true))
	}()
	select {
	case err := <-run:
		return err
	case <-g.boot:
	}
	if ready != nil {
		ready(bound)
	}
	select {
	case err := <-run:
		return err
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.eng.Stop(stop)
}
