// Package servertest holds the tests every concurrency model must pass, so
// that all models are held to the same answers: the conformance table of the
// route table (Cases, Conformance), HTTP/1.1 wire behaviour over raw TCP
// (Wire), hostile input (Malformed), graceful shutdown and the end of the
// grace period (Shutdown, GraceOver), configuration and pprof (Config,
// Pprof), all of them at once (Suite), and the helpers these are built from
// (Start, Request, Fetch, Get, Dial, ReadResponse, Stats, WaitInFlight).
//
// The models' own tests share the rest: Serve (a server the test stops
// itself), Client and Answer (one raw connection, requests pipelined and
// answers read in order), PlainVersus (whether a /plain overtakes a long
// request on an event loop), and ItersFor and RegexNFor (how much work takes
// about a given time on this machine).
//
// Every exchange talks raw HTTP/1.1 over net.Conn and reads answers with
// net/http's http.ReadResponse, so what is checked is what the server wrote,
// not what an HTTP client made of it. Every exchange is bounded by Timeout.
//
// The helpers taking a testing.TB must be called from the test's goroutine;
// Fetch, ReadResponse and Request may be called from any goroutine.
package servertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Timeout bounds every exchange with a server (dial, write, read), and the
// wait for a server to start or stop.
const Timeout = 15 * time.Second

// Start runs srv.Serve in a goroutine, waits until it is ready, and returns its
// address ("127.0.0.1:PORT"); srv should be configured with "127.0.0.1:0". A
// cleanup cancels Serve's context and waits up to Timeout for Serve to return,
// failing the test if it returned an error or did not return. Cleanups run
// last-registered first, so connections a test registers for closing after
// Start are closed before the server is stopped.
func Start(t testing.TB, srv servers.Server) string {
	t.Helper()
	addr, stop, served := run(t, srv)
	t.Cleanup(func() {
		stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned %v after its context was cancelled; want nil", err)
			}
		case <-time.After(Timeout):
			t.Errorf("Serve did not return within %s of its context being cancelled", Timeout)
		}
	})
	return addr
}

// run starts srv.Serve with a context of its own and waits until it is ready
// on a loopback address. stop cancels the context (a cleanup does too);
// served receives what Serve returns.
func run(t testing.TB, srv servers.Server) (addr string, stop context.CancelFunc, served <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, func(a net.Addr) {
			select {
			case ready <- a:
			default: // called more than once; the first address stands
			}
		})
	}()
	var a net.Addr
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("Serve returned %v before it was ready", err)
	case <-time.After(Timeout):
		t.Fatalf("Serve was not ready after %s", Timeout)
	}
	if tcp, ok := a.(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		t.Fatalf("Serve is ready on %v; want a loopback TCP address", a)
	}
	return a.String(), cancel, done
}

// Request renders a minimal HTTP/1.1 request: the request line, Host, the
// given header lines (each "Name: value"), and for methods other than GET an
// empty body ("Content-Length: 0").
func Request(method, target string, header ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: concbench.test\r\n")
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	if method != "GET" {
		b.WriteString("Content-Length: 0\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// ReadResponse reads one response and its whole body from br. The answer
// must not be to a HEAD request (http.ReadResponse would wait for its body).
func ReadResponse(br *bufio.Reader) (*http.Response, string, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, string(body), fmt.Errorf("reading body: %w", err)
	}
	return resp, string(body), nil
}

// Fetch sends raw (a whole request, e.g. from Request) on a fresh connection,
// reads one response and closes the connection. It is safe to call from any
// goroutine.
func Fetch(addr, raw string) (*http.Response, string, error) {
	conn, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(Timeout)); err != nil {
		return nil, "", err
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		return nil, "", err
	}
	return ReadResponse(bufio.NewReader(conn))
}

// Get does one GET of target on a fresh connection and returns the status,
// body and header, failing the test if there is no complete answer.
func Get(t testing.TB, addr, target string) (int, string, http.Header) {
	t.Helper()
	resp, body, err := Fetch(addr, Request("GET", target))
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return resp.StatusCode, body, resp.Header
}

// Dial opens a connection to addr with a deadline of Timeout, closed by a
// cleanup, and returns it with a reader.
func Dial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(Timeout)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	return conn, bufio.NewReader(conn)
}

// Stats gets /stats and decodes it, failing the test unless it is a 200
// application/json answer that decodes into a stats.Snapshot with no
// unknown fields.
func Stats(t testing.TB, addr string) stats.Snapshot {
	t.Helper()
	status, body, h := Get(t, addr, "/stats")
	if status != 200 || h.Get("Content-Type") != workloads.JSON {
		t.Fatalf("GET /stats = %d (Content-Type %q) %q; want 200 %s", status, h.Get("Content-Type"), body, workloads.JSON)
	}
	var snap stats.Snapshot
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		t.Fatalf("GET /stats: decoding %q: %v", body, err)
	}
	return snap
}

// WaitInFlight polls /stats until at least n requests besides the poll itself
// are in flight, failing the test after Timeout. It is how a test knows a
// request it sent from another goroutine has reached the handler.
func WaitInFlight(t testing.TB, addr string, n int64) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		snap := Stats(t, addr)
		if snap.InFlight-1 >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d requests in flight besides /stats; want at least %d", Timeout, snap.InFlight-1, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
