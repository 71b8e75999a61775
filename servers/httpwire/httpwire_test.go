package httpwire

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// outcome is everything Parse reports, as comparable values, so a test can
// hold on to it after the next Parse call and compare it with ==.
type outcome struct {
	Method, Path, Query string
	KeepAlive           bool
	N                   int
	// Status is 0 on success, -1 for ErrIncomplete, else the Error's.
	Status int
	Msg    string
}

const incomplete = -1

func parse(p *Parser, buf []byte) outcome {
	req, n, err := p.Parse(buf)
	if err == nil {
		return outcome{
			Method:    string(req.Method),
			Path:      string(req.Path),
			Query:     string(req.Query),
			KeepAlive: req.KeepAlive,
			N:         n,
		}
	}
	if errors.Is(err, ErrIncomplete) {
		return outcome{N: n, Status: incomplete}
	}
	var e *Error
	if !errors.As(err, &e) {
		return outcome{N: n, Status: -2, Msg: "unexpected error type: " + err.Error()}
	}
	return outcome{N: n, Status: e.Status, Msg: e.Msg}
}

func ok(method, path, query string, keepAlive bool, n int) outcome {
	return outcome{Method: method, Path: path, Query: query, KeepAlive: keepAlive, N: n}
}

func fail(status int, msg string) outcome { return outcome{Status: status, Msg: msg} }

var waitMore = outcome{Status: incomplete}

const (
	simpleGET = "GET /cpu?iters=10&x=1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: bench\r\n\r\n"
	postBody  = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	closeGET  = "GET /mem HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
)

type parseTest struct {
	name      string
	maxHeader int
	maxBody   int
	in        string
	want      outcome
}

var parseTests = []parseTest{
	// Accepted requests.
	{name: "simple GET", in: simpleGET,
		want: ok("GET", "/cpu", "iters=10&x=1", true, len(simpleGET))},
	{name: "no query", in: "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/healthz", "", true, 34)},
	{name: "empty query", in: "GET /healthz? HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/healthz", "", true, 35)},
	{name: "Connection: close", in: closeGET,
		want: ok("GET", "/mem", "", false, len(closeGET))},
	{name: "Connection: close mixed case with other token", in: "GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade, CLOSE\r\n\r\n",
		want: ok("GET", "/", "", false, 55)},
	{name: "HTTP/1.0 closes by default", in: "GET /cpu HTTP/1.0\r\n\r\n",
		want: ok("GET", "/cpu", "", false, 21)},
	{name: "HTTP/1.0 keep-alive", in: "GET /cpu HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		want: ok("GET", "/cpu", "", true, 45)},
	{name: "HTTP/1.0 needs no Host", in: "GET / HTTP/1.0\r\nUser-Agent: x\r\n\r\n",
		want: ok("GET", "/", "", false, 33)},
	{name: "Content-Length body skipped", in: postBody,
		want: ok("POST", "/echo", "", true, len(postBody))},
	{name: "Content-Length zero", in: "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		want: ok("POST", "/x", "", true, 48)},
	{name: "GET with body skipped", in: "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		want: ok("GET", "/x", "", true, 50)},
	{name: "body at MaxBodyBytes", maxBody: 5, in: postBody,
		want: ok("POST", "/echo", "", true, len(postBody))},
	{name: "leading empty lines skipped and counted", in: "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/", "", true, 5+27)},
	{name: "header block exactly MaxHeaderBytes", maxHeader: 27, in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/", "", true, 27)},
	{name: "path percent-decoded and normalized", in: "GET /a%2Fb/../c%20d?q=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/a/c d", "q=%20", true, 47)},
	{name: "double slash collapsed", in: "GET //x//y HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/x/y", "", true, 32)},
	{name: "fragment dropped", in: "GET /x?a=1#frag HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/x", "a=1", true, 37)},
	// fasthttp behaviour pinned so a fasthttp upgrade that changes it shows.
	{name: "lowercase method kept as sent", in: "get /x HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("get", "/x", "", true, 28)},
	{name: "absolute-form target", in: "GET http://example.com/cpu?iters=1 HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("GET", "/cpu", "iters=1", true, 56)},
	{name: "OPTIONS asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		want: ok("OPTIONS", "/*", "", true, 31)},

	// Not complete yet.
	{name: "empty", in: "", want: waitMore},
	{name: "only empty lines", in: "\r\n\r\n", want: waitMore},
	{name: "partial request line", in: "GET /cpu HT", want: waitMore},
	{name: "terminator cut", in: "GET / HTTP/1.1\r\nHost: a\r\n\r", want: waitMore},
	{name: "body cut", in: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", want: waitMore},
	{name: "header block one below MaxHeaderBytes", maxHeader: 27, in: "GET / HTTP/1.1\r\nHost: a\r\n\r", want: waitMore},

	// 400.
	{name: "garbage line", in: "hello\r\n", want: fail(400, "malformed request line")},
	{name: "garbage block", in: "GARBAGE\r\n\r\n", want: fail(400, "malformed request line")},
	{name: "binary method", in: "\x16\x03\x01 \x00\xff HTTP/1.1\n", want: fail(400, "malformed request line")},
	{name: "leading space", in: " GET / HTTP/1.1\r\n", want: fail(400, "malformed request line")},
	{name: "missing protocol", in: "GET /\r\n", want: fail(400, "malformed request line")},
	{name: "malformed version", in: "GET / HTTP/1\r\n", want: fail(400, "malformed request line")},
	{name: "trailing space after version", in: "GET / HTTP/1.1 \r\n", want: fail(400, "malformed request line")},
	{name: "empty target", in: "GET  HTTP/1.1\r\nHost: a\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "relative target", in: "GET x HTTP/1.1\r\nHost: a\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "header without colon", in: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "space before colon", in: "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "missing Host", in: "GET / HTTP/1.1\r\n\r\n", want: fail(400, "missing Host header")},
	{name: "duplicate Host", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "invalid Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "negative Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "list Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", want: fail(400, "malformed request header")},
	{name: "overflowing Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", want: fail(400, "malformed request header")},
	{name: "duplicate Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", want: fail(400, "duplicate Content-Length")},
	{name: "conflicting Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", want: fail(400, "duplicate Content-Length")},
	// Node 20 answers 400 to these two as well (issue 12, §5).
	{name: "bare LF after request line", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", want: fail(400, "header lines must end with CRLF")},
	{name: "bare LF inside the block", in: "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", want: fail(400, "header lines must end with CRLF")},
	{name: "obs-fold continuation", in: "GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", want: fail(400, "folded header line (obs-fold)")},
	{name: "obs-fold with a tab", in: "GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", want: fail(400, "folded header line (obs-fold)")},
	{name: "bare LF only", in: "GET / HTTP/1.1\nHost: a\n\n", want: fail(400, "header lines must end with CRLF")},
	{name: "bare LF then CRLF", in: "GET / HTTP/1.1\r\nHost: a\n\r\n", want: fail(400, "header lines must end with CRLF")},
	// fasthttp would end this block at "\n\n" because a CRLFCRLF follows
	// (in what is really a second request); a CRLF-only peer would not.
	{name: "bare LF smuggling", in: "GET / HTTP/1.1\r\nHost: a\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", want: fail(400, "header lines must end with CRLF")},

	// 413.
	{name: "huge Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n", want: fail(413, "request body too large")},
	{name: "body one over MaxBodyBytes", maxBody: 4, in: postBody, want: fail(413, "request body too large")},

	// 431.
	{name: "oversized complete header", in: "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + strings.Repeat("p", 8192) + "\r\n\r\n", want: fail(431, "request header too large")},
	{name: "oversized incomplete header", in: "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + strings.Repeat("p", 8192), want: fail(431, "request header too large")},
	{name: "oversized request line", in: "GET /" + strings.Repeat("a", 8192), want: fail(431, "request header too large")},
	{name: "endless empty lines", in: strings.Repeat("\r\n", 4096), want: fail(431, "request header too large")},
	{name: "header block one over MaxHeaderBytes", maxHeader: 26, in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", want: fail(431, "request header too large")},
	{name: "binary garbage without newline", maxHeader: 64, in: "\x16\x03\x01" + strings.Repeat("\x00", 61), want: fail(431, "request header too large")},

	// 501.
	{name: "Transfer-Encoding chunked", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: fail(501, "Transfer-Encoding is not supported")},
	{name: "Transfer-Encoding identity", in: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", want: fail(501, "Transfer-Encoding is not supported")},
	{name: "Transfer-Encoding gzip", in: "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: gzip\r\n\r\n", want: fail(501, "Transfer-Encoding is not supported")},
	{name: "Transfer-Encoding and Content-Length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", want: fail(501, "Transfer-Encoding is not supported")},
	{name: "Transfer-Encoding on HTTP/1.0", in: "POST / HTTP/1.0\r\nTRANSFER-ENCODING: chunked\r\n\r\n", want: fail(501, "Transfer-Encoding is not supported")},

	// 505.
	{name: "HTTP/2.0", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", want: fail(505, "HTTP version not supported")},
	{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\n", want: fail(505, "HTTP version not supported")},
	{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: fail(505, "HTTP version not supported")},
}

func (tt parseTest) parser() *Parser {
	return &Parser{MaxHeaderBytes: tt.maxHeader, MaxBodyBytes: tt.maxBody}
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(tt.in)
			if got := parse(tt.parser(), buf); got != tt.want {
				t.Errorf("Parse(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			if string(buf) != tt.in {
				t.Errorf("Parse(%q) modified its input to %q", tt.in, buf)
			}
		})
	}
}

// TestParsePrefixes feeds every case one byte at a time, as a socket that
// delivers single bytes would: a request is ErrIncomplete until its last
// byte is there, and an error may be reported early but never changes.
func TestParsePrefixes(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.parser()
			for i := 0; i < len(tt.in); i++ {
				prefix := tt.in[:i]
				got := parse(p, []byte(prefix))
				if tt.want.Status > 0 && got == tt.want {
					continue
				}
				if got != waitMore {
					t.Fatalf("Parse(%q) = %+v; want %+v", prefix, got, waitMore)
				}
			}
		})
	}
}

// pipeline is three requests sent back to back in one write.
var pipeline = []struct {
	in   string
	want outcome
}{
	{simpleGET, ok("GET", "/cpu", "iters=10&x=1", true, 75)},
	{postBody, ok("POST", "/echo", "", true, 56)},
	{closeGET, ok("GET", "/mem", "", false, 49)},
}

func pipelineBytes() []byte {
	var b []byte
	for _, r := range pipeline {
		b = append(b, r.in...)
	}
	return b
}

func TestParsePipelined(t *testing.T) {
	var p Parser
	buf := pipelineBytes()
	for i, r := range pipeline {
		got := parse(&p, buf)
		if got != r.want {
			t.Fatalf("request %d: Parse(%q) = %+v; want %+v", i, buf, got, r.want)
		}
		buf = buf[got.N:]
	}
	if got := parse(&p, buf); got != waitMore {
		t.Errorf("Parse(%q) after the last request = %+v; want %+v", buf, got, waitMore)
	}
}

// conn simulates an event-loop connection: bytes are appended to an input
// buffer as they arrive, and every complete request is parsed and discarded.
type conn struct {
	p   Parser
	in  []byte
	got []outcome
	t   *testing.T
}

func (c *conn) receive(data []byte) {
	c.in = append(c.in, data...)
	for {
		r := parse(&c.p, c.in)
		if r.Status == incomplete {
			return
		}
		if r.Status != 0 {
			c.t.Fatalf("Parse(%q) = %+v; want a request", c.in, r)
		}
		c.got = append(c.got, r)
		c.in = c.in[r.N:]
	}
}

func (c *conn) check(desc string) {
	c.t.Helper()
	if len(c.got) != len(pipeline) {
		c.t.Fatalf("%s: got %d requests %+v; want %d", desc, len(c.got), c.got, len(pipeline))
	}
	for i, r := range pipeline {
		if c.got[i] != r.want {
			c.t.Errorf("%s: request %d = %+v; want %+v", desc, i, c.got[i], r.want)
		}
	}
	if len(c.in) != 0 {
		c.t.Errorf("%s: %q left over", desc, c.in)
	}
}

// TestParseSplitEverywhere delivers the pipelined stream in two reads, split
// at every possible offset, and one byte per read.
func TestParseSplitEverywhere(t *testing.T) {
	stream := pipelineBytes()
	for split := 0; split <= len(stream); split++ {
		c := &conn{t: t}
		c.receive(stream[:split])
		c.receive(stream[split:])
		c.check("split at " + strconv.Itoa(split))
	}

	c := &conn{t: t}
	for i := range stream {
		c.receive(stream[i : i+1])
	}
	c.check("byte by byte")
}

// TestParseReuse checks that a Parser carries nothing over from one call to
// the next: not after an error, and not across a MaxHeaderBytes change.
func TestParseReuse(t *testing.T) {
	p := &Parser{MaxHeaderBytes: 64}
	steps := []struct {
		in   string
		want outcome
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", fail(400, "malformed request header")},
		{"GET /a?b HTTP/1.0\r\n\r\n", ok("GET", "/a", "b", false, 21)},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", 100) + "\r\n\r\n", fail(431, "request header too large")},
		{"POST /c HTTP/1.1\r\nHost: a\r\n\r\n", ok("POST", "/c", "", true, 29)},
	}
	for _, s := range steps {
		if got := parse(p, []byte(s.in)); got != s.want {
			t.Errorf("Parse(%q) = %+v; want %+v", s.in, got, s.want)
		}
	}
	p.MaxHeaderBytes = 16384
	big := "GET /big HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", 10000) + "\r\n\r\n"
	if got, want := parse(p, []byte(big)), ok("GET", "/big", "", true, len(big)); got != want {
		t.Errorf("Parse(10 kB header) with MaxHeaderBytes 16384 = %+v; want %+v", got, want)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Status: 431, Msg: "request header too large"}
	if got, want := e.Error(), "httpwire: 431 request header too large"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestAppendResponse(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		close       bool
		extra       []string
		want        string
	}{
		{
			name: "200", status: 200, contentType: "text/plain; charset=utf-8", body: "ok\n",
			want: "HTTP/1.1 200 OK\r\n" +
				"Server: concbench\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n" +
				"Content-Length: 3\r\n" +
				"\r\n" +
				"ok\n",
		},
		{
			name: "400 close", status: 400, contentType: "text/plain; charset=utf-8", body: "malformed request line\n", close: true,
			want: "HTTP/1.1 400 Bad Request\r\n" +
				"Server: concbench\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n" +
				"Content-Length: 23\r\n" +
				"Connection: close\r\n" +
				"\r\n" +
				"malformed request line\n",
		},
		{
			name: "503 Retry-After", status: 503, contentType: "application/json", body: `{"error":"overloaded"}`,
			extra: []string{"Retry-After", "1"},
			want: "HTTP/1.1 503 Service Unavailable\r\n" +
				"Server: concbench\r\n" +
				"Content-Type: application/json\r\n" +
				"Content-Length: 22\r\n" +
				"Retry-After: 1\r\n" +
				"\r\n" +
				`{"error":"overloaded"}`,
		},
		{
			name: "no content type, empty body, two extras, close", status: 404, close: true,
			extra: []string{"X-A", "1", "X-B", "two"},
			want: "HTTP/1.1 404 Not Found\r\n" +
				"Server: concbench\r\n" +
				"Content-Length: 0\r\n" +
				"X-A: 1\r\n" +
				"X-B: two\r\n" +
				"Connection: close\r\n" +
				"\r\n",
		},
		{
			name: "unknown status has empty reason", status: 599,
			want: "HTTP/1.1 599 \r\n" +
				"Server: concbench\r\n" +
				"Content-Length: 0\r\n" +
				"\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendResponse(nil, tt.status, tt.contentType, []byte(tt.body), tt.close, tt.extra...)
			if string(got) != tt.want {
				t.Errorf("AppendResponse(nil, %d, %q, %q, %v, %q) = %q; want %q",
					tt.status, tt.contentType, tt.body, tt.close, tt.extra, got, tt.want)
			}
		})
	}
}

func TestAppendResponseAppends(t *testing.T) {
	dst := []byte("previous response")
	got := AppendResponse(dst, 204, "", nil, false)
	want := "previous responseHTTP/1.1 204 No Content\r\nServer: concbench\r\nContent-Length: 0\r\n\r\n"
	if string(got) != want {
		t.Errorf("AppendResponse(%q, 204, ...) = %q; want %q", "previous response", got, want)
	}
}

func TestAppendResponseOddExtraPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("AppendResponse with extra %q did not panic", []string{"Retry-After"})
		}
	}()
	AppendResponse(nil, 503, "", nil, false, "Retry-After")
}

// TestErrorMessages checks what the caller relies on when answering an
// Error: Msg is one non-empty line, and every Status has a reason phrase.
func TestErrorMessages(t *testing.T) {
	for _, tt := range parseTests {
		if tt.want.Status <= 0 {
			continue
		}
		if tt.want.Msg == "" || strings.ContainsAny(tt.want.Msg, "\r\n") {
			t.Errorf("%s: Msg %q is not a single non-empty line", tt.name, tt.want.Msg)
		}
		line, _, _ := bytes.Cut(AppendResponse(nil, tt.want.Status, "", nil, true), []byte("\r\n"))
		if bytes.HasSuffix(line, []byte(" ")) {
			t.Errorf("%s: status line %q has no reason phrase", tt.name, line)
		}
	}
}
