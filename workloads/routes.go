// Package workloads holds the route table every concbench server model serves:
// parsing and validating a request, and the work itself (I/O waits, CPU hashing,
// catastrophic regexes). Models differ only in where and when they run that work.
package workloads

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Route identifies one entry of the shared route table.
type Route uint8

// The routes, in the order they are reported.
const (
	RoutePlain Route = iota
	RouteIO
	RouteCPU
	RouteRegex
	RouteHealthz
	RouteStats
	NumRoutes
)

var routeNames = [NumRoutes]string{"plain", "io", "cpu", "regex", "healthz", "stats"}

// String returns the route's short name ("plain", "io", ...), as used in /stats.
func (r Route) String() string {
	if r < NumRoutes {
		return routeNames[r]
	}
	return "unknown"
}

// Defer says how a chunked /cpu request hands control back between chunks.
type Defer uint8

const (
	// DeferNone runs the whole hash in one go.
	DeferNone Defer = iota
	// DeferTick queues each next chunk where the loop drains it before polling again
	// (Node's process.nextTick): nobody else gets in between chunks.
	DeferTick
	// DeferLoop re-posts each next chunk behind pending events (Node's setImmediate):
	// other requests run between chunks.
	DeferLoop
)

// Engine selects the regex engine of /regex.
type Engine uint8

const (
	// EngineBacktrack is a backtracking engine (dlclark/regexp2): exponential on ^(a+)+$.
	EngineBacktrack Engine = iota
	// EngineRE2 is Go's regexp: linear in the input.
	EngineRE2
)

// String returns the engine's parameter value.
func (e Engine) String() string {
	if e == EngineRE2 {
		return "re2"
	}
	return "backtrack"
}

// Bounds on parameters, so that no request can hang the harness by accident.
const (
	MaxWaitMs  = 60000
	MaxIters   = 100_000_000
	MaxRegexN  = 64
	MaxTimeout = 60000
	// MaxRegexReps bounds reps, the matches one /regex request runs in a row.
	MaxRegexReps = 1000
	// MaxUnboundedBacktrackN is the largest n a backtracking match may take without
	// timeout_ms: each extra character doubles the time (n=24 took 1.7 s and
	// n=26 7 s on our 2-core test machine), so n=40 would take days.
	MaxUnboundedBacktrackN = 26
)

// Request is a parsed, validated request of the route table.
type Request struct {
	Route Route

	// /io
	Wait  time.Duration
	Block bool // mode=block: sleep on the handling thread itself

	// /cpu
	Iters int
	Chunk int // 0 when not chunked
	Defer Defer

	// /regex
	N       int
	Engine  Engine
	Timeout time.Duration // 0: unbounded
	// Reps is how many times the match runs in a row on the same thread (0
	// when not given: once): the fine knob of calibration, where n steps the
	// time by ×2. Only without Timeout, which bounds one match.
	Reps int
}

// Error is a request the route table refuses. Msg is one line, without a newline.
type Error struct {
	Status int
	Msg    string
	// Allow is set for 405 answers.
	Allow string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Msg) }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: 400, Msg: fmt.Sprintf(format, args...)}
}

// Parse validates method, path (without query) and raw query (without '?') against the
// route table. It retains none of its arguments, so callers may pass strings that alias
// reusable buffers. Unknown path is 404, a method other than GET 405, and any unknown,
// duplicated, unparsable or out-of-range parameter 400.
func Parse(method, path, rawQuery string) (Request, *Error) {
	var req Request
	switch path {
	case "/plain":
		req.Route = RoutePlain
	case "/io":
		req.Route = RouteIO
	case "/cpu":
		req.Route = RouteCPU
	case "/regex":
		req.Route = RouteRegex
	case "/healthz":
		req.Route = RouteHealthz
	case "/stats":
		req.Route = RouteStats
	default:
		return req, &Error{Status: 404, Msg: "not found: no route " + quote(path, 64)}
	}
	if method != "GET" {
		return req, &Error{Status: 405, Msg: "method not allowed: " + quote(method, 16) + " (only GET)", Allow: "GET"}
	}
	var q query
	if err := q.parse(rawQuery); err != nil {
		return req, err
	}
	var err *Error
	switch req.Route {
	case RouteIO:
		err = parseIO(&q, &req)
	case RouteCPU:
		err = parseCPU(&q, &req)
	case RouteRegex:
		err = parseRegex(&q, &req)
	}
	if err != nil {
		return req, err
	}
	return req, q.unused()
}

func parseIO(q *query, req *Request) *Error {
	ms, err := q.intParam("ms", true, 0, MaxWaitMs)
	if err != nil {
		return err
	}
	req.Wait = time.Duration(ms) * time.Millisecond
	switch mode, ok := q.take("mode"); {
	case !ok, mode == "async":
	case mode == "block":
		req.Block = true
	default:
		return badRequest("parameter mode: want async or block, got %s", quote(mode, 16))
	}
	return nil
}

func parseCPU(q *query, req *Request) *Error {
	iters, err := q.intParam("iters", true, 1, MaxIters)
	if err != nil {
		return err
	}
	req.Iters = iters
	chunk, err := q.intParam("chunk", false, 1, MaxIters)
	if err != nil {
		return err
	}
	mode, hasDefer := q.take("defer")
	switch {
	case chunk == 0 && !hasDefer:
		return nil
	case chunk == 0:
		return badRequest("parameter defer needs chunk")
	case !hasDefer:
		return badRequest("parameter chunk needs defer=tick or defer=loop")
	}
	req.Chunk = chunk
	switch mode {
	case "tick":
		req.Defer = DeferTick
	case "loop":
		req.Defer = DeferLoop
	default:
		return badRequest("parameter defer: want tick or loop, got %s", quote(mode, 16))
	}
	return nil
}

func parseRegex(q *query, req *Request) *Error {
	n, err := q.intParam("n", true, 0, MaxRegexN)
	if err != nil {
		return err
	}
	req.N = n
	switch engine, ok := q.take("engine"); {
	case !ok:
		return badRequest("missing parameter engine (backtrack or re2)")
	case engine == "backtrack":
		req.Engine = EngineBacktrack
	case engine == "re2":
		req.Engine = EngineRE2
	default:
		return badRequest("parameter engine: want backtrack or re2, got %s", quote(engine, 16))
	}
	ms, err := q.intParam("timeout_ms", false, 1, MaxTimeout)
	if err != nil {
		return err
	}
	req.Timeout = time.Duration(ms) * time.Millisecond
	if req.Engine == EngineBacktrack && req.Timeout == 0 && n > MaxUnboundedBacktrackN {
		return badRequest("parameter n: backtrack with n > %d needs timeout_ms (time doubles per character)", MaxUnboundedBacktrackN)
	}
	reps, err := q.intParam("reps", false, 1, MaxRegexReps)
	if err != nil {
		return err
	}
	if reps > 1 && req.Timeout > 0 {
		return badRequest("parameter reps: not with timeout_ms (the timeout bounds one match)")
	}
	// reps may not make a request cost more than the longest single match
	// allowed without a timeout.
	if req.Engine == EngineBacktrack && reps > 1 && n <= MaxUnboundedBacktrackN && reps > 1<<(MaxUnboundedBacktrackN-n) {
		return badRequest("parameter reps: %d matches of n=%d cost more than one of n=%d (at most %d)", reps, n, MaxUnboundedBacktrackN, 1<<(MaxUnboundedBacktrackN-n))
	}
	req.Reps = reps
	return nil
}

// query holds the few parameters of one request without allocating a map.
type query struct {
	keys, vals [4]string
	used       [4]bool
	n          int
}

const maxParams = 4

func (q *query) parse(raw string) *Error {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, ok := unescape(k)
		if !ok {
			return badRequest("malformed query: bad escape in %s", quote(kv, 32))
		}
		if v, ok = unescape(v); !ok {
			return badRequest("malformed query: bad escape in %s", quote(kv, 32))
		}
		for i := 0; i < q.n; i++ {
			if q.keys[i] == k {
				return badRequest("duplicate parameter %s", quote(k, 32))
			}
		}
		if q.n == maxParams {
			return badRequest("too many parameters (at most %d)", maxParams)
		}
		q.keys[q.n], q.vals[q.n] = k, v
		q.n++
	}
	return nil
}

func unescape(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// take returns the value of key and marks it used.
func (q *query) take(key string) (string, bool) {
	for i := 0; i < q.n; i++ {
		if q.keys[i] == key {
			q.used[i] = true
			return q.vals[i], true
		}
	}
	return "", false
}

// intParam parses a decimal parameter in [lo, hi]; absent optional parameters are 0.
func (q *query) intParam(key string, required bool, lo, hi int) (int, *Error) {
	v, ok := q.take(key)
	if !ok {
		if required {
			return 0, badRequest("missing parameter %s", key)
		}
		return 0, nil
	}
	if v == "" || len(v) > 10 {
		return 0, badRequest("parameter %s: want an integer in [%d, %d], got %s", key, lo, hi, quote(v, 16))
	}
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, badRequest("parameter %s: want an integer in [%d, %d], got %s", key, lo, hi, quote(v, 16))
		}
		n = n*10 + int(c-'0')
	}
	if n < lo || n > hi {
		return 0, badRequest("parameter %s: %d out of range [%d, %d]", key, n, lo, hi)
	}
	return n, nil
}

func (q *query) unused() *Error {
	for i := 0; i < q.n; i++ {
		if !q.used[i] {
			return badRequest("unknown parameter %s", quote(q.keys[i], 32))
		}
	}
	return nil
}

// quote returns s as a Go string literal with at most width bytes between the
// quotes. A longer literal is cut on a character boundary and the cut marked with
// "...". Bounding the quoted width, not the bytes of s, keeps messages short even
// when every byte of s needs a four-byte escape such as \xff.
func quote(s string, width int) string {
	b := make([]byte, 1, width+5)
	b[0] = '"'
	var buf [16]byte
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		// Quote escapes rune by rune, so the quoted runes concatenate to the
		// quoted string.
		r := strconv.AppendQuote(buf[:0], s[i:i+size])
		r = r[1 : len(r)-1]
		if len(b)-1+len(r) > width {
			return string(append(b, `..."`...))
		}
		b = append(b, r...)
		i += size
	}
	return string(append(b, '"'))
}
