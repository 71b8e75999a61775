package servertest

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/concbench/concbench/workloads"
)

// Case is one request of the conformance table and its exact expected answer.
type Case struct {
	Name   string
	Method string
	// Target is the request target as sent, path and query.
	Target string
	Status int
	// Body is the exact body.
	Body string
	// Header holds header values that must be present, each exactly once.
	// Content-Length is always checked against Body and need not be listed.
	Header map[string]string
}

// Cases returns the conformance table: every route with valid parameters and
// every class of refused request, each with its exact answer. /stats is not
// in it (its body changes); Conformance checks it separately.
func Cases() []Case {
	text := map[string]string{"Content-Type": workloads.TextPlain}
	allow := map[string]string{"Content-Type": workloads.TextPlain, "Allow": "GET"}
	ok := func(name, target, body string) Case {
		return Case{Name: name, Method: "GET", Target: target, Status: 200, Body: body, Header: text}
	}
	bad := func(name, target, msg string) Case {
		return Case{Name: name, Method: "GET", Target: target, Status: 400, Body: msg + "\n", Header: text}
	}
	hash1, hash1000 := workloads.Hash(1)+"\n", workloads.Hash(1000)+"\n"
	return []Case{
		ok("plain", "/plain", "hello from concbench\n"),
		ok("plain/empty query", "/plain?", "hello from concbench\n"),
		ok("plain/escaped path", "/%70lain", "hello from concbench\n"),
		ok("healthz", "/healthz", "ok\n"),
		ok("io/ms=0", "/io?ms=0", "waited 0ms\n"),
		ok("io/ms=5", "/io?ms=5", "waited 5ms\n"),
		ok("io/escaped query", "/io?m%73=%35", "waited 5ms\n"),
		ok("io/async", "/io?ms=1&mode=async", "waited 1ms\n"),
		ok("io/block", "/io?ms=5&mode=block", "waited 5ms (blocking)\n"),
		ok("cpu/iters=1", "/cpu?iters=1", hash1),
		ok("cpu/iters=1000", "/cpu?iters=1000", hash1000),
		ok("cpu/defer=tick", "/cpu?iters=1000&chunk=100&defer=tick", hash1000),
		ok("cpu/defer=loop", "/cpu?iters=1000&chunk=7&defer=loop", hash1000),
		ok("regex/backtrack", "/regex?n=10&engine=backtrack", "no match\n"),
		ok("regex/backtrack bounded", "/regex?n=10&engine=backtrack&timeout_ms=60000", "no match\n"),
		ok("regex/re2", "/regex?n=10&engine=re2", "no match\n"),
		ok("regex/reps", "/regex?n=10&engine=backtrack&reps=3", "no match\n"),

		bad("missing/ms", "/io", "missing parameter ms"),
		bad("missing/engine", "/regex?n=5", "missing parameter engine (backtrack or re2)"),
		bad("unknown parameter", "/plain?x=1", `unknown parameter "x"`),
		bad("duplicate", "/io?ms=1&ms=2", `duplicate parameter "ms"`),
		bad("too many", "/plain?a=1&b=2&c=3&d=4&e=5", "too many parameters (at most 4)"),
		bad("out of range/ms", "/io?ms=60001", "parameter ms: 60001 out of range [0, 60000]"),
		bad("out of range/iters", "/cpu?iters=0", "parameter iters: 0 out of range [1, 100000000]"),
		bad("unparsable/iters", "/cpu?iters=ten", `parameter iters: want an integer in [1, 100000000], got "ten"`),
		bad("unparsable/escape", "/io?ms=%zz", `malformed query: bad escape in "ms=%zz"`),
		bad("unparsable/defer", "/cpu?iters=10&chunk=5&defer=now", `parameter defer: want tick or loop, got "now"`),
		bad("unbounded backtrack", "/regex?n=30&engine=backtrack", "parameter n: backtrack with n > 26 needs timeout_ms (time doubles per character)"),
		bad("out of range/reps", "/regex?n=5&engine=re2&reps=0", "parameter reps: 0 out of range [1, 1000]"),
		bad("reps with timeout", "/regex?n=5&engine=backtrack&timeout_ms=50&reps=2", "parameter reps: not with timeout_ms (the timeout bounds one match)"),
		bad("reps beyond n=26", "/regex?n=20&engine=backtrack&reps=65", "parameter reps: 65 matches of n=20 cost more than one of n=26 (at most 64)"),

		{Name: "unknown path", Method: "GET", Target: "/nope", Status: 404, Body: "not found: no route \"/nope\"\n", Header: text},
		{Name: "unknown path/trailing slash", Method: "GET", Target: "/plain/", Status: 404, Body: "not found: no route \"/plain/\"\n", Header: text},
		{Name: "POST", Method: "POST", Target: "/plain", Status: 405, Body: "method not allowed: \"POST\" (only GET)\n", Header: allow},
		{Name: "DELETE", Method: "DELETE", Target: "/io?ms=1", Status: 405, Body: "method not allowed: \"DELETE\" (only GET)\n", Header: allow},
		{Name: "regex/timeout", Method: "GET", Target: "/regex?n=40&engine=backtrack&timeout_ms=50", Status: 503,
			Body: "regex: backtracking match timed out after 50ms (n=40)\n", Header: text},
	}
}

// Conformance sends every Case over one kept-alive connection and then each
// over a fresh connection, checking the exact status and body, the headers of
// the Case, Content-Length, Server: concbench, and that no header is sent
// besides those, Date and Connection. It then checks that /stats reports
// model and that its counters rose by what was sent: completed requests per
// route and answers per status class.
func Conformance(t *testing.T, addr, model string) {
	t.Helper()
	ConformanceExcept(t, addr, model, nil)
}

// CheckRuntime names Conformance's check of /stats runtime (the Go
// runtime's scheduling latencies), for ConformanceExcept.
const CheckRuntime = "stats/runtime"

// Further checks a reference server may be excused from, for
// ConformanceExcept: the "Server: concbench" header of every answer
// (CheckServerHeader), and keeping the connection open after an error answer
// (CheckKeepAliveAfterError: the keep-alive pass then dials again after an
// error answer that closed it, and checks the remaining cases on the new
// connection).
const (
	CheckServerHeader        = "header/Server"
	CheckKeepAliveAfterError = "keep-alive/after-error"
)

// ConformanceExcept is Conformance for a server that is not a Go model (a
// reference server: real Node.js, Apache): skip maps the Case names, or
// CheckRuntime, that it is known to answer differently to the reason, and
// those are logged and left out, every other check is made as is.
func ConformanceExcept(t *testing.T, addr, model string, skip map[string]string) {
	t.Helper()
	before := Stats(t, addr)
	if before.Model != model {
		t.Errorf("/stats model = %q; want %q", before.Model, model)
	}
	var cases []Case
	for _, c := range Cases() {
		if reason, ok := skip[c.Name]; ok {
			t.Logf("skipping case %q: %s", c.Name, reason)
			continue
		}
		cases = append(cases, c)
	}

	_, anyServer := skip[CheckServerHeader]
	if reason, ok := skip[CheckServerHeader]; ok {
		t.Logf("skipping %s: %s", CheckServerHeader, reason)
	}
	checkCase := func(t *testing.T, c Case, resp *http.Response, body string) {
		t.Helper()
		checkCaseServer(t, c, resp, body, anyServer)
	}
	reason, redial := skip[CheckKeepAliveAfterError]
	if redial {
		t.Logf("skipping %s: %s", CheckKeepAliveAfterError, reason)
	}

	t.Run("keep-alive", func(t *testing.T) {
		conn, br := Dial(t, addr)
		for _, c := range cases {
			if _, err := io.WriteString(conn, Request(c.Method, c.Target)); err != nil {
				t.Fatalf("%s: %s %s: write: %v", c.Name, c.Method, c.Target, err)
			}
			resp, body, err := ReadResponse(br)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", c.Name, c.Method, c.Target, err)
			}
			checkCase(t, c, resp, body)
			if resp.Close && redial && c.Status >= 400 {
				conn, br = Dial(t, addr)
				continue
			}
			if resp.Close {
				t.Fatalf("%s: %s %s: the server closed a kept-alive connection", c.Name, c.Method, c.Target)
			}
		}
	})
	t.Run("fresh", func(t *testing.T) {
		for _, c := range cases {
			resp, body, err := Fetch(addr, Request(c.Method, c.Target))
			if err != nil {
				t.Errorf("%s: %s %s: %v", c.Name, c.Method, c.Target, err)
				continue
			}
			checkCase(t, c, resp, body)
		}
	})
	if t.Failed() {
		return // the counters would only repeat the failures
	}

	after := Stats(t, addr)
	if after.Model != model {
		t.Errorf("/stats model = %q; want %q", after.Model, model)
	}
	if after.InFlight < 1 {
		t.Errorf("/stats in_flight = %d; want at least 1 (the /stats request itself)", after.InFlight)
	}
	if reason, ok := skip[CheckRuntime]; ok {
		t.Logf("skipping %s: %s", CheckRuntime, reason)
	} else if rt := after.Runtime; rt == nil || rt.SchedLatency.Count == 0 {
		t.Errorf("/stats runtime = %+v; want the runtime/metrics scheduling latencies", rt)
	}
	// Every case was sent twice. The /stats requests are counted apart: a
	// model may read /stats of its own children, which counts more of them.
	wantCompleted := map[string]uint64{}
	wantClass := map[string]uint64{}
	for _, c := range cases {
		wantClass[strconv.Itoa(c.Status/100)+"xx"] += 2
		if c.Status >= 400 {
			continue
		}
		u, err := url.ParseRequestURI(c.Target)
		if err != nil {
			t.Fatalf("%s: target %q: %v", c.Name, c.Target, err)
		}
		req, perr := workloads.Parse(c.Method, u.Path, u.RawQuery)
		if perr != nil {
			t.Fatalf("%s: %s %s: Parse refuses it (%v) but it is answered %d", c.Name, c.Method, c.Target, perr, c.Status)
		}
		wantCompleted[req.Route.String()] += 2
	}
	delta := func(m map[string]uint64, before map[string]uint64, k string) uint64 { return m[k] - before[k] }
	statsDelta := delta(after.Completed, before.Completed, "stats")
	if statsDelta < 1 {
		t.Errorf("/stats completed[stats] rose by %d; want at least 1", statsDelta)
	}
	for r := workloads.Route(0); r < workloads.NumRoutes; r++ {
		if r == workloads.RouteStats {
			continue
		}
		if got, want := delta(after.Completed, before.Completed, r.String()), wantCompleted[r.String()]; got != want {
			t.Errorf("/stats completed[%s] rose by %d; want %d", r, got, want)
		}
	}
	for _, class := range []string{"2xx", "3xx", "4xx", "5xx"} {
		got := delta(after.Responses, before.Responses, class)
		if class == "2xx" {
			got -= statsDelta
		}
		if want := wantClass[class]; got != want {
			t.Errorf("/stats responses[%s] rose by %d (not counting /stats); want %d", class, got, want)
		}
	}
}

// allowedHeaders may be sent in any answer of the route table; Connection
// only as "close" or "keep-alive".
var allowedHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Server": true, "Date": true, "Connection": true}

// checkCaseServer checks an answer against its Case; anyServer accepts any
// one Server header.
func checkCaseServer(t *testing.T, c Case, resp *http.Response, body string, anyServer bool) {
	t.Helper()
	what := c.Name + ": " + c.Method + " " + c.Target
	if resp.StatusCode != c.Status || body != c.Body {
		t.Errorf("%s = %d %q; want %d %q", what, resp.StatusCode, body, c.Status, c.Body)
	}
	checkHeaderServer(t, what, resp, body, c.Header, anyServer)
}

// checkHeader checks the header of an answer of the route table.
func checkHeader(t *testing.T, what string, resp *http.Response, body string, want map[string]string) {
	t.Helper()
	checkHeaderServer(t, what, resp, body, want, false)
}

func checkHeaderServer(t *testing.T, what string, resp *http.Response, body string, want map[string]string, anyServer bool) {
	t.Helper()
	for k, v := range want {
		if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q; want [%q]", what, k, got, v)
		}
	}
	if got := resp.Header.Values("Content-Length"); len(got) != 1 || got[0] != strconv.Itoa(len(body)) {
		t.Errorf("%s: Content-Length = %q; want [%q]", what, got, strconv.Itoa(len(body)))
	}
	if len(resp.TransferEncoding) != 0 {
		t.Errorf("%s: Transfer-Encoding %q; want none", what, resp.TransferEncoding)
	}
	if got := resp.Header.Values("Server"); len(got) != 1 || (got[0] != "concbench" && !anyServer) {
		t.Errorf("%s: Server = %q; want [\"concbench\"]", what, got)
	}
	for k, v := range resp.Header {
		if _, ok := want[k]; !ok && !allowedHeaders[k] {
			t.Errorf("%s: unexpected header %s: %q", what, k, v)
		}
	}
	if v := resp.Header.Get("Connection"); v != "" && v != "close" && v != "keep-alive" {
		t.Errorf("%s: Connection = %q; want close, keep-alive or none", what, v)
	}
}

// readAnswer reads one answer, failing the test if there is none.
func readAnswer(t *testing.T, br *bufio.Reader, what string) (*http.Response, string) {
	t.Helper()
	resp, body, err := ReadResponse(br)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp, body
}
