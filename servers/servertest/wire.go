package servertest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Wire checks HTTP/1.1 framing over raw TCP:
//   - pipelining: three requests in one write, the first a slow one, are
//     answered in order;
//   - a request split over several writes with pauses is answered;
//   - "Connection: close" is honoured: the server closes after its answer;
//   - an HTTP/1.0 request without keep-alive is answered and closed;
//   - the Content-Length body of a GET (itself shaped like a request) is
//     skipped, not served, before the next pipelined request.
func Wire(t *testing.T, addr string) {
	t.Run("pipelined", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, Request("GET", "/io?ms=30")+Request("GET", "/plain")+Request("GET", "/healthz", "Connection: close"))
		for _, want := range []string{"waited 30ms\n", "hello from concbench\n", "ok\n"} {
			resp, body := readAnswer(t, br, "pipelined")
			if resp.StatusCode != 200 || body != want {
				t.Errorf("pipelined answer = %d %q; want 200 %q", resp.StatusCode, body, want)
			}
		}
		expectClosed(t, conn, br, "after the pipelined requests, the last with Connection: close")
	})

	// A HEAD answer carries no body, even a 405's: a body would be read as the
	// start of the next answer on the connection.
	t.Run("head", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, Request("HEAD", "/plain")+Request("GET", "/plain"))
		resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil {
			t.Fatalf("HEAD /plain: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
			t.Errorf("HEAD /plain = %d, Allow %q; want 405, Allow GET", resp.StatusCode, resp.Header.Get("Allow"))
		}
		resp, body := readAnswer(t, br, "GET after HEAD")
		if resp.StatusCode != 200 || body != "hello from concbench\n" {
			t.Errorf("GET /plain after HEAD = %d %q; want 200 %q", resp.StatusCode, body, "hello from concbench\n")
		}
	})

	t.Run("split", func(t *testing.T) {
		conn, br := Dial(t, addr)
		req := Request("GET", "/io?ms=1")
		for _, part := range []string{req[:2], req[2:9], req[9:20], req[20 : len(req)-3], req[len(req)-3 : len(req)-1], req[len(req)-1:]} {
			write(t, conn, part)
			time.Sleep(20 * time.Millisecond)
		}
		resp, body := readAnswer(t, br, "split request")
		if resp.StatusCode != 200 || body != "waited 1ms\n" {
			t.Errorf("split request = %d %q; want 200 %q", resp.StatusCode, body, "waited 1ms\n")
		}
	})

	t.Run("connection-close", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, Request("GET", "/plain", "Connection: close"))
		resp, body := readAnswer(t, br, "Connection: close")
		if resp.StatusCode != 200 || body != "hello from concbench\n" {
			t.Errorf("GET /plain with Connection: close = %d %q; want 200 %q", resp.StatusCode, body, "hello from concbench\n")
		}
		if !resp.Close {
			t.Errorf("GET /plain with Connection: close: answer without Connection: close")
		}
		expectClosed(t, conn, br, "after answering Connection: close")
	})

	t.Run("http1.0", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, "GET /plain HTTP/1.0\r\n\r\n")
		resp, body := readAnswer(t, br, "HTTP/1.0")
		if resp.StatusCode != 200 || body != "hello from concbench\n" {
			t.Errorf("HTTP/1.0 GET /plain = %d %q; want 200 %q", resp.StatusCode, body, "hello from concbench\n")
		}
		expectClosed(t, conn, br, "after answering HTTP/1.0 without keep-alive")
	})

	t.Run("get-with-body", func(t *testing.T) {
		conn, br := Dial(t, addr)
		smuggled := Request("GET", "/nope")
		write(t, conn, "GET /plain HTTP/1.1\r\nHost: concbench.test\r\nContent-Length: "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled+
			Request("GET", "/healthz", "Connection: close"))
		for _, want := range []string{"hello from concbench\n", "ok\n"} {
			resp, body := readAnswer(t, br, "GET with a body")
			if resp.StatusCode != 200 || body != want {
				t.Errorf("GET with a body, then GET /healthz: answer %d %q; want 200 %q (the body must be skipped)", resp.StatusCode, body, want)
			}
		}
		expectClosed(t, conn, br, "after the last request with Connection: close")
	})
}

// Malformed sends hostile input, each on its own connection, and checks after
// each that a new connection still gets GET /healthz answered 200:
//   - garbage text with a proper header terminator: exactly 400, then closed;
//   - HTTP/1.1 without Host: exactly 400, then closed;
//   - a 64 KiB header field and a 16 KiB request target: 431 (414 for the
//     target), or the connection closed without an answer (a server may
//     reset a connection it stopped reading from, which can lose the answer);
//   - binary junk with NULs and a TLS ClientHello prefix: any 4xx, or closed
//     (which 4xx is stack-specific);
//   - a request line never finished, then abandoned: no answer while it is
//     incomplete;
//   - a complete request written a byte every 10 ms: answered 200.
func Malformed(t *testing.T, addr string) {
	t.Helper()
	MalformedExcept(t, addr, nil)
}

// MalformedExcept is Malformed for a reference server: skip maps the
// subtests ("header-64k", ...) it is known to answer differently to the
// reason, and those are logged and left out.
func MalformedExcept(t *testing.T, addr string, skip map[string]string) {
	big := "GET /plain HTTP/1.1\r\nHost: concbench.test\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	longTarget := "GET /plain?" + strings.Repeat("a", 16<<10) + " HTTP/1.1\r\nHost: concbench.test\r\n\r\n"
	rejects := []struct {
		name, raw string
		want      []int // accepted statuses; nil: any 4xx
		mayClose  bool  // closing without an answer is accepted
	}{
		{"garbage", "this is not http\r\n\r\n", []int{400}, false},
		{"no-host", "GET /plain HTTP/1.1\r\n\r\n", []int{400}, false},
		{"header-64k", big, []int{431}, true},
		{"target-16k", longTarget, []int{431, 414}, true},
		{"binary", "\x00\x01\x02GET\x00 /plain\xff\xfe HTTP/1.1\r\n\x00\x00\xff\r\n\r\n", nil, true},
		{"tls-hello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", nil, true},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			if reason, ok := skip[tt.name]; ok {
				t.Skip(reason)
			}
			conn, br := Dial(t, addr)
			_, werr := io.WriteString(conn, tt.raw) // may fail once the server gave up reading
			resp, body, err := ReadResponse(br)
			switch {
			case err != nil && tt.mayClose && !isTimeout(err):
				// closed or reset without a (readable) answer
			case err != nil:
				t.Errorf("%s: no answer: %v (write: %v)", tt.name, err, werr)
			case tt.want == nil && (resp.StatusCode < 400 || resp.StatusCode > 499):
				t.Errorf("%s: answered %d %q; want a 4xx", tt.name, resp.StatusCode, body)
			case tt.want != nil && !slices.Contains(tt.want, resp.StatusCode):
				t.Errorf("%s: answered %d %q; want %v", tt.name, resp.StatusCode, body, tt.want)
			default:
				expectClosed(t, conn, br, tt.name+": after the 4xx answer")
			}
			healthy(t, addr, tt.name)
		})
	}

	t.Run("unfinished", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, "GET /plain HTTP/1.1\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if b, err := br.Peek(1); err == nil || !isTimeout(err) {
			t.Errorf("unfinished request: read %q, %v; want no answer while the request is incomplete", b, err)
		}
		_ = conn.Close()
		healthy(t, addr, "unfinished request")
	})

	t.Run("slow", func(t *testing.T) {
		conn, br := Dial(t, addr)
		req := Request("GET", "/plain")
		for i := range len(req) {
			write(t, conn, req[i:i+1])
			time.Sleep(10 * time.Millisecond)
		}
		resp, body := readAnswer(t, br, "request written a byte every 10 ms")
		if resp.StatusCode != 200 || body != "hello from concbench\n" {
			t.Errorf("request written a byte every 10 ms = %d %q; want 200 %q", resp.StatusCode, body, "hello from concbench\n")
		}
		healthy(t, addr, "slow request")
	})
}

// healthy checks that GET /healthz on a new connection is answered 200.
func healthy(t *testing.T, addr, after string) {
	t.Helper()
	resp, body, err := Fetch(addr, Request("GET", "/healthz"))
	if err != nil || resp.StatusCode != 200 || body != "ok\n" {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Errorf("after %s, GET /healthz = %d %q, %v; want 200 %q", after, status, body, err, "ok\n")
	}
}

// expectClosed checks that the server closes conn with nothing more to read.
func expectClosed(t *testing.T, conn net.Conn, br *bufio.Reader, what string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(Timeout))
	b, err := br.Peek(1)
	switch {
	case err == nil:
		t.Errorf("%s: read %q; want the connection closed", what, b)
	case isTimeout(err):
		t.Errorf("%s: the connection is still open after %s", what, Timeout)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default: // reset: closed too
	}
}

func write(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}
