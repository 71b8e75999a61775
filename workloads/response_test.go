package workloads

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func sameResponse(a, b Response) bool {
	return a.Status == b.Status && a.ContentType == b.ContentType && bytes.Equal(a.Body, b.Body) &&
		a.RetryAfter == b.RetryAfter && a.Allow == b.Allow
}

// fmtResponse prints r with its body as a string, for failure messages.
func fmtResponse(r Response) string {
	return fmt.Sprintf("{Status:%d ContentType:%q Body:%q RetryAfter:%d Allow:%q}", r.Status, r.ContentType, r.Body, r.RetryAfter, r.Allow)
}

func text(status int, body string) Response {
	return Response{Status: status, ContentType: TextPlain, Body: []byte(body)}
}

func TestResponses(t *testing.T) {
	check := func(call string, got, want Response) {
		t.Helper()
		if !sameResponse(got, want) {
			t.Errorf("%s = %s; want %s", call, fmtResponse(got), fmtResponse(want))
		}
	}
	check("Plain()", Plain(), text(200, "hello from concbench\n"))
	check("Healthz()", Healthz(), text(200, "ok\n"))

	io := Request{Route: RouteIO, Wait: 250 * time.Millisecond}
	check("IODone(ms=250)", IODone(io), text(200, "waited 250ms\n"))
	io.Block = true
	check("IODone(ms=250&mode=block)", IODone(io), text(200, "waited 250ms (blocking)\n"))
	check("IODone(ms=0)", IODone(Request{Route: RouteIO}), text(200, "waited 0ms\n"))
	check("IODone(ms=60000)", IODone(Request{Route: RouteIO, Wait: time.Minute}), text(200, "waited 60000ms\n"))

	check(`ErrorResponse(405)`, ErrorResponse(&Error{Status: 405, Msg: `method not allowed: "POST" (only GET)`, Allow: "GET"}),
		Response{Status: 405, ContentType: TextPlain, Body: []byte("method not allowed: \"POST\" (only GET)\n"), Allow: "GET"})
	check(`ErrorResponse(400)`, ErrorResponse(&Error{Status: 400, Msg: "missing parameter ms"}), text(400, "missing parameter ms\n"))
	check(`ErrorResponse(404)`, ErrorResponse(&Error{Status: 404, Msg: `not found: no route "/"`}), text(404, "not found: no route \"/\"\n"))

	check(`Overloaded("cpu queue")`, Overloaded("cpu queue"),
		Response{Status: 503, ContentType: TextPlain, Body: []byte("overloaded: cpu queue\n"), RetryAfter: 1})

	h := NewHasher(1)
	h.Step(1)
	check("CPUDone(Hash(1))", CPUDone(&h), text(200, Hash(1)+"\n"))
}

// TestParseErrorResponse checks what a refused request looks like end to end.
func TestParseErrorResponse(t *testing.T) {
	check := func(method, path, query string, want Response) {
		t.Helper()
		_, err := Parse(method, path, query)
		if err == nil {
			t.Fatalf("Parse(%q, %q, %q) = _, nil; want an error", method, path, query)
		}
		if got := ErrorResponse(err); !sameResponse(got, want) {
			t.Errorf("ErrorResponse(Parse(%q, %q, %q)) = %s; want %s", method, path, query, fmtResponse(got), fmtResponse(want))
		}
	}
	check("POST", "/plain", "", Response{Status: 405, ContentType: TextPlain, Body: []byte("method not allowed: \"POST\" (only GET)\n"), Allow: "GET"})
	check("HEAD", "/io", "ms=1", Response{Status: 405, ContentType: TextPlain, Body: []byte("method not allowed: \"HEAD\" (only GET)\n"), Allow: "GET"})
	check("GET", "/nope", "", text(404, "not found: no route \"/nope\"\n"))
	check("GET", "/io", "ms=-1", text(400, "parameter ms: want an integer in [0, 60000], got \"-1\"\n"))
}

func TestRunBlocking(t *testing.T) {
	check := func(query string, req Request, want Response) {
		t.Helper()
		if got := RunBlocking(req); !sameResponse(got, want) {
			t.Errorf("RunBlocking(%s) = %s; want %s", query, fmtResponse(got), fmtResponse(want))
		}
	}
	parse := func(path, query string) Request {
		t.Helper()
		req, err := Parse("GET", path, query)
		if err != nil {
			t.Fatalf("Parse(%q, %q, %q) = _, %v; want nil", "GET", path, query, err)
		}
		return req
	}
	check("/plain", parse("/plain", ""), Plain())
	check("/healthz", parse("/healthz", ""), Healthz())
	check("/io?ms=1", parse("/io", "ms=1"), text(200, "waited 1ms\n"))
	check("/io?ms=1&mode=block", parse("/io", "ms=1&mode=block"), text(200, "waited 1ms (blocking)\n"))
	check("/cpu?iters=10", parse("/cpu", "iters=10"), text(200, Hash(10)+"\n"))
	check("/cpu?iters=10&chunk=3&defer=loop", parse("/cpu", "iters=10&chunk=3&defer=loop"), text(200, Hash(10)+"\n"))
	check("/regex?n=64&engine=re2", parse("/regex", "n=64&engine=re2"), text(200, "no match\n"))
	check("/regex?n=5&engine=backtrack", parse("/regex", "n=5&engine=backtrack"), text(200, "no match\n"))

	start := time.Now()
	RunBlocking(parse("/io", "ms=20"))
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("RunBlocking(/io?ms=20) returned after %v; want at least 20ms", d)
	}
}
