package eventloop

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"github.com/concbench/concbench/servers/httpwire"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// connState is a client connection's state, kept in its gnet context. Only the
// loop touches it.
//
// Answers must leave in request order even when a request completes later (an
// /io wait, a chunked or offloaded /cpu). The simplest correct rule is used:
// while a request of the connection is pending, the loop parses none of the
// requests pipelined behind it; their bytes stay buffered in gnet until the
// answer has been written, and then parsing resumes. So the FIFO of pending
// answers a pipelining server needs never holds more than one entry, and is
// the pending flag. Requests of other connections are not held up.
type connState struct {
	c gnet.Conn
	// pending: a request is being answered asynchronously.
	pending bool
	// closeAfter: the client asked to close after the current request.
	closeAfter bool
	// head: the current request is a HEAD, whose answer has no body.
	head bool
	// closing: the connection is queued in Server.toClose; nothing more is
	// parsed or answered.
	closing bool
	// closed: gnet closed the connection (OnClose ran); c must not be used
	// again, its descriptor may already belong to another connection.
	closed bool
	// paused: the outbound buffer went above MaxOutbound, so nothing is
	// parsed until it drains below half of it (checked by housekeep; gnet
	// has no writable callback). The connection is in Server.paused.
	paused bool
	// skip is the part of the current request's body not yet arrived: it is
	// discarded as it comes in (no route reads a body).
	skip int
	// phase and since drive the timeouts: what the connection is waiting
	// for, and since when (on the loop's coarse clock).
	phase phase
	since time.Time
	// gone is set by OnClose. It is the one field read off the loop: an
	// offloaded job of a closed connection is not run.
	gone atomic.Bool
}

// phase is what a connection waits for; see Server.housekeep.
type phase uint8

const (
	phaseNew    phase = iota // accepted, nothing received: headers timeout
	phaseIdle                // between requests: keep-alive timeout
	phaseHeader              // part of a header block buffered: headers timeout
	phaseBody                // skipping a body: request timeout
	phaseBusy                // a request is pending or the output is paused
)

// wakeMark is the gnet context of the wake connection (see sched.go).
type wakeMark struct{}

// OnOpen sets up a client connection, or closes it at once while draining.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if _, ok := c.Context().(wakeMark); ok {
		s.sched.wakeOpen = true
		return nil, gnet.None
	}
	if s.draining {
		return nil, gnet.Close
	}
	// Linux hands out the lowest free descriptor, so a descriptor this high
	// means fewer than the headroom are left. gnet shuts its engine down
	// when accept(2) fails with EMFILE; refusing here keeps the headroom
	// free for the accepts that tell us so, and for the server's own files.
	if s.fdLimit > 0 && c.Fd() >= s.fdLimit-fdHeadroom(s.fdLimit) {
		s.refused.Add(1)
		if s.refused.Load()&(s.refused.Load()-1) == 0 { // log at powers of two
			s.cfg.Log.Warn("near the descriptor limit; refusing connections", "fd", c.Fd(), "limit", s.fdLimit, "refused", s.refused.Load())
		}
		return nil, gnet.Close
	}
	cs := &connState{c: c, since: s.clock}
	c.SetContext(cs)
	s.conns[cs] = struct{}{}
	return nil, gnet.None
}

// OnClose forgets a connection. A request still pending on it completes
// anyway (its work cannot be called back) and is then dropped.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	switch cs := c.Context().(type) {
	case *connState:
		cs.closed = true
		cs.gone.Store(true)
		delete(s.conns, cs)
		delete(s.paused, cs)
	case wakeMark:
		s.sched.wakeOpen = false
		if !s.stopping.Load() {
			s.cfg.Log.Error("wake connection closed; defer=loop falls back to Execute", "err", err)
		}
	}
	return gnet.None
}

// OnTraffic serves the requests buffered on c, then drains the microtasks
// they queued, before gnet polls again.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		if _, ok := c.Context().(wakeMark); ok {
			s.runImmediates(c)
			return gnet.None
		}
		s.cfg.Log.Error("traffic on a connection without state; closing it")
		return gnet.Close
	}
	s.current, s.closeSelf = cs, false
	if (cs.pending || cs.paused) && c.InboundBuffered() > MaxPipelineBacklog {
		s.cfg.Log.Warn("client pipelined too much behind a pending request or unread answers; closing", "bytes", c.InboundBuffered(), "max", MaxPipelineBacklog)
		s.closeConn(cs)
	} else if (!cs.pending && !cs.paused) || cs.skip > 0 {
		// A pending or paused connection parses nothing: serve would only
		// peek at its growing backlog (a copy once gnet's ring buffer
		// wraps) on every read. Body bytes are still skipped.
		s.serve(cs)
	}
	s.endCallback()
	s.current = nil
	if s.closeSelf {
		return gnet.Close
	}
	return gnet.None
}

// endCallback ends every entry into the server from the loop: it drains the
// microtask queue (process.nextTick's rule: completely, before the loop polls
// again) and closes the connections queued for closing. Closing is deferred to
// here so that no connection is released by gnet while code above still holds
// its buffers; the connection whose OnTraffic is running is closed by its
// return value instead.
func (s *Server) endCallback() {
	s.sched.drainMicrotasks()
	for i, cs := range s.toClose {
		s.toClose[i] = nil
		switch {
		case cs.closed:
		case cs == s.current:
			s.closeSelf = true
		default:
			if err := cs.c.EventLoop().Close(cs.c); err != nil {
				s.cfg.Log.Warn("closing connection", "err", err)
			}
		}
	}
	s.toClose = s.toClose[:0]
}

// closeConn queues cs for closing at the end of the callback and stops parsing it.
func (s *Server) closeConn(cs *connState) {
	if cs.closing || cs.closed {
		return
	}
	cs.closing = true
	s.toClose = append(s.toClose, cs)
}

// serve parses and handles the requests buffered on cs, in order, until one
// is pending, the output is paused, the bytes run out or the connection is to
// be closed.
func (s *Server) serve(cs *connState) {
	// Peek's bytes stay valid until Discard, so they are discarded once, at
	// the end; nothing below reads this connection's buffer again before that.
	buf, _ := cs.c.Peek(-1)       // -1: all buffered bytes; never fails then
	off := min(cs.skip, len(buf)) // the rest of a body, as it arrives
	cs.skip -= off
	handled := false
	for off < len(buf) && cs.skip == 0 && !cs.pending && !cs.paused && !cs.closeAfter && !cs.closing && !cs.closed {
		// Backpressure: a client that sends requests but does not read the
		// answers would otherwise grow the outbound buffer without bound.
		// Node stops parsing when its write buffer is full; so does this.
		if cs.c.OutboundBuffered() > MaxOutbound {
			cs.paused = true
			cs.phase, cs.since = phaseBusy, s.clock
			s.paused[cs] = struct{}{}
			break
		}
		req, hlen, blen, err := s.parser.ParseHeader(buf[off:])
		if errors.Is(err, httpwire.ErrIncomplete) {
			break
		}
		if err != nil {
			status, msg := 400, err.Error()
			var we *httpwire.Error
			if errors.As(err, &we) {
				status, msg = we.Status, we.Msg
			}
			// The next request's start is unknown: answer and close.
			s.fail(cs, status, msg)
			off = len(buf)
			break
		}
		off += hlen
		body := min(blen, len(buf)-off)
		off += body
		cs.skip = blen - body
		if cs.skip > 0 && req.Continue {
			// The client waits for this before it sends the body that
			// must be skipped before the next request.
			_, _ = cs.c.Write(continue100)
		}
		handled = true
		s.handle(cs, req)
	}
	if cs.closed {
		return
	}
	if off > 0 {
		_, _ = cs.c.Discard(off) // never fails for off <= buffered
	}
	// Timeouts: what does the connection wait for now?
	switch {
	case cs.closing:
	case cs.pending || cs.paused:
		cs.phase = phaseBusy
	case cs.skip > 0:
		if cs.phase != phaseBody && cs.phase != phaseHeader {
			cs.since = s.clock
		}
		cs.phase = phaseBody
	case off < len(buf): // part of the next header block
		if handled || (cs.phase != phaseHeader && cs.phase != phaseBody) {
			cs.since = s.clock
		}
		cs.phase = phaseHeader
	case handled || cs.phase == phaseBody || cs.phase == phaseBusy:
		cs.phase, cs.since = phaseIdle, s.clock
	}
}

// continue100 answers "Expect: 100-continue".
var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// fail answers a request that cannot be served (malformed, timed out) and
// closes the connection. It counts like any answer of no route.
func (s *Server) fail(cs *connState, status int, msg string) {
	cs.head = false // the answer has a body, whatever the last request was
	s.stats.Begin()
	s.stats.End(workloads.NumRoutes, status)
	s.write(cs, workloads.Response{Status: status, ContentType: workloads.TextPlain, Body: []byte(msg + "\n")}, true)
	s.closeConn(cs)
}

// housekeep runs on the loop every ProbeInterval: it advances the loop's
// coarse clock, resumes the paused connections whose output has drained, and
// closes the connections whose timeout has expired.
func (s *Server) housekeep(now time.Time) {
	s.clock = now
	if sec := now.Unix(); sec != s.dateSec {
		s.dateSec, s.date = sec, now.UTC().Format(http.TimeFormat)
	}
	for cs := range s.paused {
		if cs.closing || cs.closed {
			delete(s.paused, cs)
			continue
		}
		if cs.c.OutboundBuffered() <= MaxOutbound/2 {
			delete(s.paused, cs)
			cs.paused = false
			s.serve(cs)
		}
	}
	if now.Sub(s.lastSweep) < s.sweepEvery {
		return
	}
	s.lastSweep = now
	for cs := range s.conns {
		if cs.closing || cs.closed || cs.pending {
			continue
		}
		waited := now.Sub(cs.since)
		switch {
		case cs.paused && waited > s.cfg.HeadersTimeout:
			// The client has read nothing for this long.
			s.closeConn(cs)
		case cs.phase == phaseIdle && waited > s.cfg.KeepAliveTimeout:
			s.closeConn(cs)
		case cs.phase == phaseNew && waited > s.cfg.HeadersTimeout:
			s.closeConn(cs)
		case cs.phase == phaseHeader && waited > s.cfg.HeadersTimeout,
			cs.phase == phaseBody && waited > s.cfg.RequestTimeout:
			s.fail(cs, 408, "request timeout")
		}
	}
}

// str views b as a string for a call that retains nothing (workloads.Parse).
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// handle runs one request. Answers of requests that finish here are written
// at once; the others mark cs pending and answer through complete.
func (s *Server) handle(cs *connState, hr httpwire.Request) {
	s.stats.Begin()
	cs.head = str(hr.Method) == "HEAD"
	if !hr.KeepAlive {
		cs.closeAfter = true // and nothing behind it is parsed
	}
	req, perr := workloads.Parse(str(hr.Method), str(hr.Path), str(hr.Query))
	if perr != nil {
		s.respond(cs, workloads.NumRoutes, workloads.ErrorResponse(perr))
		return
	}
	// req holds only numbers: nothing in it aliases gnet's buffers, so it
	// may cross to timers and workers as is.
	route := req.Route
	switch route {
	case workloads.RoutePlain:
		s.respond(cs, route, workloads.Plain())
	case workloads.RouteHealthz:
		s.respond(cs, route, workloads.Healthz())
	case workloads.RouteStats:
		// The snapshot is built off the loop (its JSON, with the loop
		// delay's zlib-encoded histogram, took ~0.66 ms), so reading /stats
		// four times a second does not delay the requests being measured.
		cs.pending = true
		loop, f := cs.c.EventLoop(), s.opts.statsFunc
		if f == nil {
			f = func() (stats.Snapshot, error) { return s.Snapshot(), nil }
		}
		go func() {
			resp := statsResponse(f())
			s.post(loop, func() { s.complete(cs, route, resp) })
		}()
	case workloads.RouteIO:
		if req.Block { // the anti-pattern: the whole loop sleeps
			time.Sleep(req.Wait)
			s.respond(cs, route, workloads.IODone(req))
			return
		}
		cs.pending = true
		loop := cs.c.EventLoop()
		time.AfterFunc(req.Wait, func() {
			s.post(loop, func() { s.complete(cs, route, workloads.IODone(req)) })
		})
	case workloads.RouteCPU, workloads.RouteRegex:
		if s.opts.offloader != nil {
			s.offload(cs, req)
			return
		}
		switch {
		case route == workloads.RouteRegex:
			s.respond(cs, route, workloads.RunRegex(req))
		case req.Chunk == 0:
			s.respond(cs, route, workloads.RunCPU(req))
		default:
			// The first chunk runs now, like the synchronous start of a
			// Node handler; a job done in one chunk is answered at once.
			h := workloads.NewHasher(req.Iters)
			if h.Step(req.Chunk) {
				s.respond(cs, route, workloads.CPUDone(&h))
				return
			}
			cs.pending = true
			s.deferChunk(cs, req, &h)
		}
	default:
		s.respond(cs, workloads.NumRoutes, workloads.Response{Status: 500, ContentType: workloads.TextPlain, Body: []byte("no handler for route " + route.String() + "\n")})
	}
}

// deferChunk queues the next chunk of a chunked /cpu on the loop: as a
// microtask for defer=tick, as an immediate for defer=loop. The chunk answers
// the request once the hash is done. (Chunks never run inside serve, so that
// an answer and the parsing it resumes never nest in a parse of their own
// connection.)
func (s *Server) deferChunk(cs *connState, req workloads.Request, h *workloads.Hasher) {
	next := func() {
		if h.Step(req.Chunk) {
			s.complete(cs, workloads.RouteCPU, workloads.CPUDone(h))
			return
		}
		s.deferChunk(cs, req, h)
	}
	if req.Defer == workloads.DeferTick {
		s.sched.nextTick(next)
	} else {
		s.setImmediate(cs.c.EventLoop(), next)
	}
}

// offload hands CPU work to the offloader; the worker posts the answer back.
func (s *Server) offload(cs *connState, req workloads.Request) {
	route, loop := req.Route, cs.c.EventLoop()
	cs.pending = true
	ok := s.opts.offloader.TrySubmit(func() {
		if cs.gone.Load() {
			// The client went away while the job queued: skip the work,
			// but still come back so that the in-flight count drops.
			s.post(loop, func() { s.complete(cs, route, workloads.Response{}) })
			return
		}
		var resp workloads.Response
		if route == workloads.RouteRegex {
			resp = workloads.RunRegex(req)
		} else {
			resp = workloads.RunCPU(req)
		}
		// Execute rather than AsyncWrite: the answer must also clear the
		// pending flag and resume parsing the connection, state that lives
		// on the loop; AsyncWrite would write the bytes and nothing else.
		s.post(loop, func() { s.complete(cs, route, resp) })
	})
	if !ok {
		cs.pending = false
		s.respond(cs, route, workloads.Overloaded("worker queue full"))
	}
}

// complete answers cs's pending request on the loop and resumes parsing what
// the client pipelined behind it. It is only called from outside serve: from
// a microtask, an immediate or a runnable.
func (s *Server) complete(cs *connState, route workloads.Route, resp workloads.Response) {
	cs.pending = false
	if cs.closed {
		// The client went away: the work is done but nobody gets the
		// answer. It leaves the in-flight count without counting as an
		// answer of any route or status.
		s.stats.End(workloads.NumRoutes, 0)
		return
	}
	s.respond(cs, route, resp)
	s.serve(cs)
}

// respond counts and writes the answer of cs's current request, closing the
// connection after it when the client asked to, or when draining.
func (s *Server) respond(cs *connState, route workloads.Route, resp workloads.Response) {
	s.stats.End(route, resp.Status)
	closeAfter := cs.closeAfter || s.draining
	s.write(cs, resp, closeAfter)
	if closeAfter {
		s.closeConn(cs)
	}
}

// write renders resp into the loop's scratch buffer and writes it. Conn.Write
// copies what the socket does not take at once, so the buffer is reused.
func (s *Server) write(cs *connState, resp workloads.Response, closeAfter bool) {
	if cs.closed {
		return
	}
	var extra [6]string
	extra[0], extra[1] = "Date", s.date // Node sends one, cached per second too
	n := 2
	if resp.RetryAfter > 0 {
		extra[n], extra[n+1] = "Retry-After", strconv.Itoa(resp.RetryAfter)
		n += 2
	}
	if resp.Allow != "" {
		extra[n], extra[n+1] = "Allow", resp.Allow
		n += 2
	}
	s.out = httpwire.AppendResponse(s.out[:0], resp.Status, resp.ContentType, resp.Body, closeAfter, extra[:n]...)
	if cs.head { // same headers, Content-Length included, but no body (RFC 9110 9.3.2)
		s.out = s.out[:len(s.out)-len(resp.Body)]
	}
	// On a write error gnet closes the connection itself (OnClose marks it).
	_, _ = cs.c.Write(s.out)
	if cap(s.out) > 64<<10 { // do not keep a large /stats buffer around
		s.out = nil
	}
}
