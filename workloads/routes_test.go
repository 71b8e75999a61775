package workloads

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseTest is one row of the route table's contract. A nil err means Parse
// must succeed with exactly req; otherwise it must fail with exactly *err.
type parseTest struct {
	method, path, query string
	req                 Request
	err                 *Error
}

func ok(method, path, query string, req Request) parseTest {
	return parseTest{method: method, path: path, query: query, req: req}
}

func fail(method, path, query string, status int, msg string) parseTest {
	e := &Error{Status: status, Msg: msg}
	if status == 405 {
		e.Allow = "GET"
	}
	return parseTest{method: method, path: path, query: query, err: e}
}

func bad(path, query, msg string) parseTest { return fail("GET", path, query, 400, msg) }

// Messages shared by many rows.
const (
	msgTooMany        = "too many parameters (at most 4)"
	msgDeferNoChunk   = "parameter defer needs chunk"
	msgChunkNoDefer   = "parameter chunk needs defer=tick or defer=loop"
	msgMissingEngine  = "missing parameter engine (backtrack or re2)"
	msgUnboundedBackN = "parameter n: backtrack with n > 26 needs timeout_ms (time doubles per character)"
)

func notInt(key string, lo, hi int, got string) string {
	return fmt.Sprintf("parameter %s: want an integer in [%d, %d], got %q", key, lo, hi, got)
}

func outOfRange(key string, n, lo, hi int) string {
	return fmt.Sprintf("parameter %s: %d out of range [%d, %d]", key, n, lo, hi)
}

var parseTests = []parseTest{
	// Every route with valid parameters.
	ok("GET", "/plain", "", Request{Route: RoutePlain}),
	ok("GET", "/healthz", "", Request{Route: RouteHealthz}),
	ok("GET", "/stats", "", Request{Route: RouteStats}),
	ok("GET", "/io", "ms=10", Request{Route: RouteIO, Wait: 10 * time.Millisecond}),
	ok("GET", "/io", "ms=0", Request{Route: RouteIO}),
	ok("GET", "/io", "ms=60000", Request{Route: RouteIO, Wait: time.Minute}),
	ok("GET", "/io", "ms=0007", Request{Route: RouteIO, Wait: 7 * time.Millisecond}),
	ok("GET", "/io", "ms=10&mode=async", Request{Route: RouteIO, Wait: 10 * time.Millisecond}),
	ok("GET", "/io", "mode=block&ms=250", Request{Route: RouteIO, Wait: 250 * time.Millisecond, Block: true}),
	ok("GET", "/io", "ms=%31%30", Request{Route: RouteIO, Wait: 10 * time.Millisecond}),
	ok("GET", "/io", "m%73=5&mode=%62lock", Request{Route: RouteIO, Wait: 5 * time.Millisecond, Block: true}),
	ok("GET", "/io", "&&ms=10&&", Request{Route: RouteIO, Wait: 10 * time.Millisecond}),
	ok("GET", "/plain", "&&&", Request{Route: RoutePlain}),
	ok("GET", "/cpu", "iters=1", Request{Route: RouteCPU, Iters: 1}),
	ok("GET", "/cpu", "iters=100000000", Request{Route: RouteCPU, Iters: MaxIters}),
	ok("GET", "/cpu", "iters=1000&chunk=100&defer=tick", Request{Route: RouteCPU, Iters: 1000, Chunk: 100, Defer: DeferTick}),
	ok("GET", "/cpu", "defer=loop&chunk=1&iters=5", Request{Route: RouteCPU, Iters: 5, Chunk: 1, Defer: DeferLoop}),
	ok("GET", "/cpu", "iters=5&chunk=100000000&defer=loop", Request{Route: RouteCPU, Iters: 5, Chunk: MaxIters, Defer: DeferLoop}),
	ok("GET", "/regex", "n=0&engine=backtrack", Request{Route: RouteRegex, Engine: EngineBacktrack}),
	ok("GET", "/regex", "n=26&engine=backtrack", Request{Route: RouteRegex, N: 26, Engine: EngineBacktrack}),
	ok("GET", "/regex", "n=27&engine=backtrack&timeout_ms=50", Request{Route: RouteRegex, N: 27, Engine: EngineBacktrack, Timeout: 50 * time.Millisecond}),
	ok("GET", "/regex", "n=64&engine=backtrack&timeout_ms=60000", Request{Route: RouteRegex, N: 64, Engine: EngineBacktrack, Timeout: time.Minute}),
	ok("GET", "/regex", "n=64&engine=re2", Request{Route: RouteRegex, N: 64, Engine: EngineRE2}),
	ok("GET", "/regex", "engine=re2&n=20&timeout_ms=1", Request{Route: RouteRegex, N: 20, Engine: EngineRE2, Timeout: time.Millisecond}),
	ok("GET", "/regex", "n=20&engine=backtrack&reps=64", Request{Route: RouteRegex, N: 20, Engine: EngineBacktrack, Reps: 64}),
	ok("GET", "/regex", "n=0&engine=backtrack&reps=1000", Request{Route: RouteRegex, Engine: EngineBacktrack, Reps: 1000}),
	ok("GET", "/regex", "n=64&engine=re2&reps=1000", Request{Route: RouteRegex, N: 64, Engine: EngineRE2, Reps: 1000}),
	ok("GET", "/regex", "n=30&engine=backtrack&timeout_ms=5&reps=1", Request{Route: RouteRegex, N: 30, Engine: EngineBacktrack, Timeout: 5 * time.Millisecond, Reps: 1}),

	// Missing parameters.
	bad("/io", "", "missing parameter ms"),
	bad("/io", "mode=block", "missing parameter ms"),
	bad("/cpu", "", "missing parameter iters"),
	bad("/cpu", "chunk=10&defer=tick", "missing parameter iters"),
	bad("/regex", "", "missing parameter n"),
	bad("/regex", "engine=re2", "missing parameter n"),
	bad("/regex", "n=5", msgMissingEngine),

	// Not a plain decimal integer.
	bad("/io", "ms=abc", notInt("ms", 0, MaxWaitMs, "abc")),
	bad("/io", "ms=", notInt("ms", 0, MaxWaitMs, "")),
	bad("/io", "ms", notInt("ms", 0, MaxWaitMs, "")),
	bad("/io", "ms=1.5", notInt("ms", 0, MaxWaitMs, "1.5")),
	bad("/io", "ms=0x10", notInt("ms", 0, MaxWaitMs, "0x10")),
	bad("/io", "ms=1e3", notInt("ms", 0, MaxWaitMs, "1e3")),
	bad("/io", "ms=%2010", notInt("ms", 0, MaxWaitMs, " 10")),
	bad("/cpu", "iters=ten", notInt("iters", 1, MaxIters, "ten")),
	bad("/cpu", "iters=10&chunk=x&defer=tick", notInt("chunk", 1, MaxIters, "x")),
	bad("/regex", "n=five&engine=re2", notInt("n", 0, MaxRegexN, "five")),
	bad("/regex", "n=5&engine=re2&timeout_ms=soon", notInt("timeout_ms", 1, MaxTimeout, "soon")),

	// Negative.
	bad("/io", "ms=-1", notInt("ms", 0, MaxWaitMs, "-1")),
	bad("/cpu", "iters=-5", notInt("iters", 1, MaxIters, "-5")),
	bad("/cpu", "iters=5&chunk=-1&defer=tick", notInt("chunk", 1, MaxIters, "-1")),
	bad("/regex", "n=-1&engine=re2", notInt("n", 0, MaxRegexN, "-1")),
	bad("/regex", "n=1&engine=re2&timeout_ms=-1", notInt("timeout_ms", 1, MaxTimeout, "-1")),

	// Leading '+': a literal '+' is a space in a query, an escaped one stays '+'.
	bad("/io", "ms=+10", notInt("ms", 0, MaxWaitMs, " 10")),
	bad("/io", "ms=%2B10", notInt("ms", 0, MaxWaitMs, "+10")),
	bad("/cpu", "iters=%2B1", notInt("iters", 1, MaxIters, "+1")),
	bad("/regex", "n=%2B1&engine=re2", notInt("n", 0, MaxRegexN, "+1")),

	// Overflow: more than 10 digits is refused before it is converted.
	bad("/io", "ms=99999999999", notInt("ms", 0, MaxWaitMs, "99999999999")),
	bad("/io", "ms=00000000010", notInt("ms", 0, MaxWaitMs, "00000000010")),
	bad("/io", "ms=123456789012345678901234567890", notInt("ms", 0, MaxWaitMs, "1234567890123456...")),
	bad("/cpu", "iters=18446744073709551617", notInt("iters", 1, MaxIters, "1844674407370955...")),
	bad("/regex", "n=99999999999&engine=re2", notInt("n", 0, MaxRegexN, "99999999999")),
	bad("/regex", "n=1&engine=re2&timeout_ms=99999999999", notInt("timeout_ms", 1, MaxTimeout, "99999999999")),
	// Ten digits still parse, and are then out of range.
	bad("/io", "ms=9999999999", outOfRange("ms", 9999999999, 0, MaxWaitMs)),

	// Out of range, on each bound.
	bad("/io", "ms=60001", outOfRange("ms", 60001, 0, MaxWaitMs)),
	bad("/cpu", "iters=0", outOfRange("iters", 0, 1, MaxIters)),
	bad("/cpu", "iters=100000001", outOfRange("iters", 100000001, 1, MaxIters)),
	bad("/cpu", "iters=10&chunk=0&defer=tick", outOfRange("chunk", 0, 1, MaxIters)),
	bad("/cpu", "iters=10&chunk=100000001&defer=tick", outOfRange("chunk", 100000001, 1, MaxIters)),
	bad("/regex", "n=65&engine=re2", outOfRange("n", 65, 0, MaxRegexN)),
	bad("/regex", "n=65&engine=backtrack&timeout_ms=10", outOfRange("n", 65, 0, MaxRegexN)),
	bad("/regex", "n=5&engine=re2&timeout_ms=0", outOfRange("timeout_ms", 0, 1, MaxTimeout)),
	bad("/regex", "n=5&engine=backtrack&timeout_ms=60001", outOfRange("timeout_ms", 60001, 1, MaxTimeout)),

	// Duplicates, also when spelled differently.
	bad("/io", "ms=1&ms=1", `duplicate parameter "ms"`),
	bad("/io", "ms=1&m%73=2", `duplicate parameter "ms"`),
	bad("/cpu", "iters=1&iters=2", `duplicate parameter "iters"`),
	bad("/regex", "n=1&engine=re2&engine=re2", `duplicate parameter "engine"`),
	bad("/plain", "x=1&x=2", `duplicate parameter "x"`),

	// Unknown parameters, on every route.
	bad("/plain", "x=1", `unknown parameter "x"`),
	bad("/plain", "x", `unknown parameter "x"`),
	bad("/plain", "=1", `unknown parameter ""`),
	bad("/healthz", "verbose=1", `unknown parameter "verbose"`),
	bad("/stats", "reset=1", `unknown parameter "reset"`),
	bad("/io", "ms=1&MS=1", `unknown parameter "MS"`),
	bad("/io", "ms=1&x=%0A", `unknown parameter "x"`),
	bad("/io", "ms=1&a%0Ab=1", `unknown parameter "a\nb"`),
	bad("/cpu", "iters=1&chunks=2", `unknown parameter "chunks"`),
	bad("/regex", "n=1&engine=re2&timeout=5", `unknown parameter "timeout"`),
	bad("/plain", "k"+strings.Repeat("x", 40)+"=1", `unknown parameter "k`+strings.Repeat("x", 31)+`..."`),

	// Too many parameters: the fifth is refused whatever it is.
	bad("/plain", "a=1&b=2&c=3&d=4&e=5", msgTooMany),
	bad("/cpu", "iters=1&chunk=1&defer=tick&a=1&b=2", msgTooMany),

	// Bad percent-escapes, in keys and values.
	bad("/io", "ms=%zz", `malformed query: bad escape in "ms=%zz"`),
	bad("/io", "ms=1%", `malformed query: bad escape in "ms=1%"`),
	bad("/io", "ms=%4", `malformed query: bad escape in "ms=%4"`),
	bad("/io", "m%s=1", `malformed query: bad escape in "m%s=1"`),
	bad("/plain", "%", `malformed query: bad escape in "%"`),
	bad("/plain", "x=%"+strings.Repeat("y", 40), `malformed query: bad escape in "x=%`+strings.Repeat("y", 29)+`..."`),

	// Chunking needs both chunk and defer, and a known defer.
	bad("/cpu", "iters=10&defer=tick", msgDeferNoChunk),
	bad("/cpu", "iters=10&defer=", msgDeferNoChunk),
	bad("/cpu", "iters=10&chunk=5", msgChunkNoDefer),
	bad("/cpu", "iters=10&chunk=5&defer=now", `parameter defer: want tick or loop, got "now"`),
	bad("/cpu", "iters=10&chunk=5&defer=", `parameter defer: want tick or loop, got ""`),
	bad("/cpu", "iters=10&chunk=5&defer=TICK", `parameter defer: want tick or loop, got "TICK"`),
	bad("/cpu", "iters=10&chunk=5&defer="+strings.Repeat("z", 20), `parameter defer: want tick or loop, got "`+strings.Repeat("z", 16)+`..."`),

	// Modes and engines.
	bad("/io", "ms=1&mode=sync", `parameter mode: want async or block, got "sync"`),
	bad("/io", "ms=1&mode=", `parameter mode: want async or block, got ""`),
	bad("/regex", "n=1&engine=pcre", `parameter engine: want backtrack or re2, got "pcre"`),
	bad("/regex", "n=1&engine=", `parameter engine: want backtrack or re2, got ""`),
	bad("/regex", "n=1&engine=RE2", `parameter engine: want backtrack or re2, got "RE2"`),

	// An unbounded backtracking match must stay short.
	bad("/regex", "n=27&engine=backtrack", msgUnboundedBackN),
	bad("/regex", "n=64&engine=backtrack", msgUnboundedBackN),
	bad("/regex", "n=5&engine=re2&reps=0", outOfRange("reps", 0, 1, MaxRegexReps)),
	bad("/regex", "n=5&engine=re2&reps=1001", outOfRange("reps", 1001, 1, MaxRegexReps)),
	bad("/regex", "n=5&engine=re2&timeout_ms=1&reps=2", "parameter reps: not with timeout_ms (the timeout bounds one match)"),
	bad("/regex", "n=40&engine=backtrack&timeout_ms=1&reps=2", "parameter reps: not with timeout_ms (the timeout bounds one match)"),
	bad("/regex", "n=26&engine=backtrack&reps=2", "parameter reps: 2 matches of n=26 cost more than one of n=26 (at most 1)"),
	bad("/regex", "n=20&engine=backtrack&reps=65", "parameter reps: 65 matches of n=20 cost more than one of n=26 (at most 64)"),

	// Unknown paths, whatever the method.
	fail("GET", "/", "", 404, `not found: no route "/"`),
	fail("GET", "", "", 404, `not found: no route ""`),
	fail("GET", "/plain/", "", 404, `not found: no route "/plain/"`),
	fail("GET", "/PLAIN", "", 404, `not found: no route "/PLAIN"`),
	fail("GET", "/plain?x=1", "", 404, `not found: no route "/plain?x=1"`),
	fail("GET", "/io/", "ms=1", 404, `not found: no route "/io/"`),
	fail("POST", "/nope", "", 404, `not found: no route "/nope"`),
	fail("GET", "/a\nb", "", 404, `not found: no route "/a\nb"`),
	fail("GET", "/"+strings.Repeat("p", 100), "", 404, `not found: no route "/`+strings.Repeat("p", 63)+`..."`),

	// Methods other than GET, checked before the query.
	fail("POST", "/plain", "", 405, `method not allowed: "POST" (only GET)`),
	fail("HEAD", "/plain", "", 405, `method not allowed: "HEAD" (only GET)`),
	fail("HEAD", "/healthz", "", 405, `method not allowed: "HEAD" (only GET)`),
	fail("PUT", "/io", "ms=10", 405, `method not allowed: "PUT" (only GET)`),
	fail("DELETE", "/cpu", "iters=bad", 405, `method not allowed: "DELETE" (only GET)`),
	fail("get", "/regex", "n=1&engine=re2", 405, `method not allowed: "get" (only GET)`),
	fail("", "/stats", "", 405, `method not allowed: "" (only GET)`),
	fail("GET\r\nX: y", "/stats", "", 405, `method not allowed: "GET\r\nX: y" (only GET)`),
	fail(strings.Repeat("M", 20), "/stats", "", 405, `method not allowed: "`+strings.Repeat("M", 16)+`..." (only GET)`),
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		req, err := Parse(tt.method, tt.path, tt.query)
		switch {
		case tt.err == nil && err != nil:
			t.Errorf("Parse(%q, %q, %q) = %+v, %v; want %+v, nil", tt.method, tt.path, tt.query, req, err, tt.req)
		case tt.err == nil && req != tt.req:
			t.Errorf("Parse(%q, %q, %q) = %+v, nil; want %+v, nil", tt.method, tt.path, tt.query, req, tt.req)
		case tt.err != nil && err == nil:
			t.Errorf("Parse(%q, %q, %q) = %+v, nil; want error %+v", tt.method, tt.path, tt.query, req, *tt.err)
		case tt.err != nil && *err != *tt.err:
			t.Errorf("Parse(%q, %q, %q) = _, %+v; want error %+v", tt.method, tt.path, tt.query, *err, *tt.err)
		}
		if err != nil && strings.ContainsAny(err.Msg, "\r\n") {
			t.Errorf("Parse(%q, %q, %q): Msg %q is not one line", tt.method, tt.path, tt.query, err.Msg)
		}
	}
}

// TestParseMessagesOneLine checks that no input, however hostile, makes a
// message span lines or grow without bound.
func TestParseMessagesOneLine(t *testing.T) {
	nasty := []string{"\n", "\r\n", "\u2028", "\x00", "\xff", "\xe2\x80", strings.Repeat("\xff", 100), strings.Repeat("\x01", 100), strings.Repeat("\u2028", 50)}
	check := func(method, path, query string) {
		t.Helper()
		_, err := Parse(method, path, query)
		if err == nil {
			t.Fatalf("Parse(%q, %q, %q) = _, nil; want an error", method, path, query)
		}
		if strings.ContainsAny(err.Msg, "\r\n") || len(err.Msg) > maxMsgLen {
			t.Errorf("Parse(%q, %q, %q) = _, %q; want one line of at most %d bytes", method, path, query, err.Msg, maxMsgLen)
		}
	}
	for _, s := range nasty {
		esc := escapeAll(s)
		check("GET", "/"+s, "")
		check(s, "/plain", "")
		check("GET", "/plain", esc+"=1")
		check("GET", "/plain", "x="+esc+"%")
		check("GET", "/plain", esc+"=1&"+esc+"=2")
		check("GET", "/io", "ms=1&mode="+esc)
		check("GET", "/io", "ms="+esc)
		check("GET", "/cpu", "iters=1&chunk=1&defer="+esc)
		check("GET", "/regex", "n=1&engine="+esc)
	}
}

// escapeAll percent-escapes every byte of s.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestRouteString(t *testing.T) {
	want := []string{"plain", "io", "cpu", "regex", "healthz", "stats", "unknown"}
	for r := Route(0); r <= NumRoutes; r++ {
		if got := r.String(); got != want[r] {
			t.Errorf("Route(%d).String() = %q; want %q", r, got, want[r])
		}
	}
	if got := Route(255).String(); got != "unknown" {
		t.Errorf("Route(255).String() = %q; want %q", got, "unknown")
	}
	for e, want := range map[Engine]string{EngineBacktrack: "backtrack", EngineRE2: "re2"} {
		if got := e.String(); got != want {
			t.Errorf("Engine(%d).String() = %q; want %q", e, got, want)
		}
	}
}

// maxMsgLen bounds an error message: it is echoed back in a one-line body.
const maxMsgLen = 200

var routePaths = map[string]Route{
	"/plain": RoutePlain, "/io": RouteIO, "/cpu": RouteCPU,
	"/regex": RouteRegex, "/healthz": RouteHealthz, "/stats": RouteStats,
}

// canonicalQuery renders req the one way a well-behaved client would.
func canonicalQuery(req Request) string {
	var q []string
	switch req.Route {
	case RouteIO:
		q = append(q, "ms="+strconv.Itoa(int(req.Wait/time.Millisecond)))
		if req.Block {
			q = append(q, "mode=block")
		}
	case RouteCPU:
		q = append(q, "iters="+strconv.Itoa(req.Iters))
		if req.Chunk != 0 {
			d := "tick"
			if req.Defer == DeferLoop {
				d = "loop"
			}
			q = append(q, "chunk="+strconv.Itoa(req.Chunk), "defer="+d)
		}
	case RouteRegex:
		q = append(q, "n="+strconv.Itoa(req.N), "engine="+req.Engine.String())
		if req.Timeout != 0 {
			q = append(q, "timeout_ms="+strconv.Itoa(int(req.Timeout/time.Millisecond)))
		}
		if req.Reps != 0 {
			q = append(q, "reps="+strconv.Itoa(req.Reps))
		}
	}
	return strings.Join(q, "&")
}

// checkBounds reports how req breaks the documented bounds, or "".
func checkBounds(req Request) string {
	ms := func(d time.Duration, lo, hi int) bool {
		return d%time.Millisecond == 0 && d >= time.Duration(lo)*time.Millisecond && d <= time.Duration(hi)*time.Millisecond
	}
	rest := req
	switch req.Route {
	case RoutePlain, RouteHealthz, RouteStats:
	case RouteIO:
		if !ms(req.Wait, 0, MaxWaitMs) {
			return "Wait out of [0, 60s] or not whole ms"
		}
		rest.Wait, rest.Block = 0, false
	case RouteCPU:
		if req.Iters < 1 || req.Iters > MaxIters {
			return "Iters out of [1, MaxIters]"
		}
		if req.Chunk < 0 || req.Chunk > MaxIters {
			return "Chunk out of [0, MaxIters]"
		}
		if (req.Chunk == 0) != (req.Defer == DeferNone) || req.Defer > DeferLoop {
			return "Chunk and Defer disagree"
		}
		rest.Iters, rest.Chunk, rest.Defer = 0, 0, DeferNone
	case RouteRegex:
		if req.N < 0 || req.N > MaxRegexN {
			return "N out of [0, MaxRegexN]"
		}
		if req.Engine > EngineRE2 {
			return "unknown Engine"
		}
		if req.Timeout != 0 && !ms(req.Timeout, 1, MaxTimeout) {
			return "Timeout out of [1ms, 60s] or not whole ms"
		}
		if req.Engine == EngineBacktrack && req.Timeout == 0 && req.N > MaxUnboundedBacktrackN {
			return "unbounded backtracking with N > MaxUnboundedBacktrackN"
		}
		if req.Reps < 0 || req.Reps > MaxRegexReps {
			return "Reps out of [0, MaxRegexReps]"
		}
		if req.Reps > 1 && req.Timeout != 0 {
			return "Reps with a Timeout"
		}
		if req.Engine == EngineBacktrack && req.Reps > 1 && req.Reps<<req.N > 1<<MaxUnboundedBacktrackN {
			return "Reps matches cost more than one of MaxUnboundedBacktrackN"
		}
		rest.N, rest.Engine, rest.Timeout, rest.Reps = 0, EngineBacktrack, 0, 0
	default:
		return "unknown Route"
	}
	if rest != (Request{Route: req.Route}) {
		return "fields of another route set"
	}
	return ""
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.method, tt.path, tt.query)
	}
	f.Fuzz(func(t *testing.T, method, path, query string) {
		req, err := Parse(method, path, query)
		if err != nil {
			if strings.ContainsAny(err.Msg, "\r\n") || err.Msg == "" || len(err.Msg) > maxMsgLen {
				t.Fatalf("Parse(%q, %q, %q) = _, %q; want a non-empty line of at most %d bytes", method, path, query, err.Msg, maxMsgLen)
			}
			_, known := routePaths[path]
			switch {
			case err.Status == 404 && !known && err.Allow == "":
			case err.Status == 405 && known && method != "GET" && err.Allow == "GET":
			case err.Status == 400 && known && method == "GET" && err.Allow == "":
			default:
				t.Fatalf("Parse(%q, %q, %q) = _, %+v; want 404 (unknown path), 405 with Allow GET (known path, not GET) or 400", method, path, query, *err)
			}
			return
		}
		if method != "GET" || routePaths[path] != req.Route {
			t.Fatalf("Parse(%q, %q, %q) = %+v, nil; want an error or Route %v", method, path, query, req, routePaths[path])
		}
		if why := checkBounds(req); why != "" {
			t.Fatalf("Parse(%q, %q, %q) = %+v, nil: %s", method, path, query, req, why)
		}
		canon := canonicalQuery(req)
		req2, err := Parse("GET", path, canon)
		if err != nil || req2 != req {
			t.Fatalf("Parse(%q, %q, %q) = %+v, nil; but Parse(\"GET\", %q, %q) = %+v, %v", method, path, query, req, path, canon, req2, err)
		}
	})
}

func TestQuote(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  string
	}{
		{"", 16, `""`},
		{"abc", 16, `"abc"`},
		{"a\nb", 16, `"a\nb"`},
		{"\u2028", 16, `"\u2028"`},
		{"\xe2\x80", 16, `"\xe2\x80"`},
		{strings.Repeat("a", 16), 16, `"` + strings.Repeat("a", 16) + `"`},
		{strings.Repeat("a", 17), 16, `"` + strings.Repeat("a", 16) + `..."`},
		{strings.Repeat("a", 14) + "\n", 16, `"` + strings.Repeat("a", 14) + `\n"`},
		{strings.Repeat("a", 15) + "\n", 16, `"` + strings.Repeat("a", 15) + `..."`},
		{strings.Repeat("\xff", 10), 16, `"\xff\xff\xff\xff..."`},
		{strings.Repeat("é", 8), 16, `"` + strings.Repeat("é", 8) + `"`},
		{strings.Repeat("é", 9), 16, `"` + strings.Repeat("é", 8) + `..."`},
		{"ab" + strings.Repeat("é", 8), 16, `"ab` + strings.Repeat("é", 7) + `..."`},
	}
	for _, tt := range tests {
		if got := quote(tt.s, tt.width); got != tt.want {
			t.Errorf("quote(%q, %d) = %s; want %s", tt.s, tt.width, got, tt.want)
		}
	}
	// Whatever the input, the result is a literal of at most width+5 bytes
	// whose text is a prefix of s.
	for _, s := range []string{"\x00\x01\x02", strings.Repeat("\xff", 100), strings.Repeat("\u2028x", 30), "日本語のパス/ü\xc3", strings.Repeat(`"\`, 40)} {
		for _, width := range []int{0, 1, 4, 16, 32, 64} {
			got := quote(s, width)
			lit, cut := strings.CutSuffix(got, `..."`)
			if cut {
				lit += `"`
			}
			text, err := strconv.Unquote(lit)
			if len(got) > width+5 || err != nil || !strings.HasPrefix(s, text) || cut == (text == s) {
				t.Errorf("quote(%q, %d) = %s; want a literal of at most %d bytes quoting a prefix of the input", s, width, got, width+5)
			}
		}
	}
}
