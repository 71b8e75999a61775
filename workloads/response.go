package workloads

import (
	"runtime"
	"strconv"
	"time"
)

// Response is what a model writes back. Every model renders it the same way, so
// all of them give the same answers to the same requests.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	// RetryAfter, in seconds, is sent as Retry-After when non-zero.
	RetryAfter int
	// Allow is sent as Allow when non-empty (405 answers).
	Allow string
}

// Content types of the route table.
const (
	TextPlain = "text/plain; charset=utf-8"
	JSON      = "application/json"
)

// PlainBody is the small fixed body of /plain.
var PlainBody = []byte("hello from concbench\n")

var healthzBody = []byte("ok\n")

// ErrorResponse renders a refused request: the one-line reason and a newline.
func ErrorResponse(e *Error) Response {
	return Response{Status: e.Status, ContentType: TextPlain, Body: []byte(e.Msg + "\n"), Allow: e.Allow}
}

// Overloaded is the answer of a model whose bounded queue is full.
func Overloaded(what string) Response {
	return Response{Status: 503, ContentType: TextPlain, Body: []byte("overloaded: " + what + "\n"), RetryAfter: 1}
}

// Plain answers /plain.
func Plain() Response { return Response{Status: 200, ContentType: TextPlain, Body: PlainBody} }

// Healthz answers /healthz.
func Healthz() Response { return Response{Status: 200, ContentType: TextPlain, Body: healthzBody} }

// IODone answers /io once its wait is over.
func IODone(req Request) Response {
	b := append([]byte("waited "), strconv.Itoa(int(req.Wait/time.Millisecond))...)
	b = append(b, "ms"...)
	if req.Block {
		b = append(b, " (blocking)"...)
	}
	return Response{Status: 200, ContentType: TextPlain, Body: append(b, '\n')}
}

// CPUDone answers /cpu with the finished hasher's digest.
func CPUDone(h *Hasher) Response {
	return Response{Status: 200, ContentType: TextPlain, Body: h.AppendHex(make([]byte, 0, 65))}
}

// RegexDone answers /regex from MatchRegex's result.
func RegexDone(req Request, matched bool, err error) Response {
	if err != nil {
		return Response{Status: 503, ContentType: TextPlain,
			Body: []byte("regex: backtracking match timed out after " + req.Timeout.String() + " (n=" + strconv.Itoa(req.N) + ")\n")}
	}
	if matched {
		return Response{Status: 200, ContentType: TextPlain, Body: []byte("match\n")}
	}
	return Response{Status: 200, ContentType: TextPlain, Body: []byte("no match\n")}
}

// RunCPU hashes on the calling goroutine. With DeferLoop it yields to the Go
// scheduler between chunks (the goroutine models' setImmediate); DeferTick and
// unchunked requests run straight through.
func RunCPU(req Request) Response {
	h := NewHasher(req.Iters)
	if req.Chunk == 0 {
		h.Step(req.Iters)
		return CPUDone(&h)
	}
	for !h.Step(req.Chunk) {
		if req.Defer == DeferLoop {
			runtime.Gosched()
		}
	}
	return CPUDone(&h)
}

// RunRegex matches on the calling goroutine, req.Reps times in a row.
func RunRegex(req Request) Response {
	ok, err := MatchRegex(req.Engine, req.N, req.Timeout)
	for i := 1; i < req.Reps && err == nil; i++ {
		ok, err = MatchRegex(req.Engine, req.N, req.Timeout)
	}
	return RegexDone(req, ok, err)
}

// RunBlocking serves every route but /stats on the calling goroutine, the way
// the goroutine-per-request and thread-per-request models do: an I/O wait parks
// the caller (in mode=block as well: for them there is no other way to wait).
func RunBlocking(req Request) Response {
	switch req.Route {
	case RoutePlain:
		return Plain()
	case RouteIO:
		time.Sleep(req.Wait)
		return IODone(req)
	case RouteCPU:
		return RunCPU(req)
	case RouteRegex:
		return RunRegex(req)
	default:
		return Healthz()
	}
}
