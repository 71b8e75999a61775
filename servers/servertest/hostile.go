package servertest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/workloads"
)

// HostileOptions says what a server is expected to do where servers may
// legitimately differ.
type HostileOptions struct {
	// HalfOpen: the server still answers a request whose client shut down
	// its write side after sending it (Node, net/http, fasthttp). gnet closes
	// a connection at the read EOF, so the loop models lose the answer; for
	// them the suite checks that the connection is closed instead.
	HalfOpen bool
	// Conns is how many connections the many-connections case holds open at
	// once, each with a pending /io (default 2000).
	Conns int
}

// The bounds the suite holds every server to.
const (
	// FloodRSSGrowth bounds the memory a server may grow by while one client
	// pipelines requests and never reads the answers (twice that for a
	// server built with the race detector).
	FloodRSSGrowth = 64 << 20
	// floodBytes is how much the flooding client tries to send.
	floodBytes = 64 << 20
	// bodyPiece is the piece size of the 1 MiB body sent in tiny pieces.
	bodyPiece = 256
)

// Hostile runs the hostile-client suite against servers started by launch:
// a pipelining flood from a client that never reads, descriptor exhaustion,
// slowloris and idle connections against short timeouts, a 1 MiB body in
// 256-byte pieces, folded and bare-LF header lines, half-close, and many
// connections each with a pending /io. Every server runs in a process of its
// own (see Launch), so its memory and CPU are its own.
func Hostile(t *testing.T, launch LaunchFunc, o HostileOptions) {
	if o.Conns == 0 {
		o.Conns = 2000
	}
	t.Run("flood", func(t *testing.T) { hostileFlood(t, launch) })
	t.Run("read late", func(t *testing.T) { hostileReadLate(t, launch) })
	t.Run("descriptors", func(t *testing.T) { hostileDescriptors(t, launch) })
	t.Run("timeouts", func(t *testing.T) { hostileTimeouts(t, launch) })
	t.Run("body", func(t *testing.T) { hostileBody(t, launch) })
	t.Run("strict", func(t *testing.T) { hostileStrict(t, launch) })
	t.Run("halfclose", func(t *testing.T) { hostileHalfClose(t, launch, o.HalfOpen) })
	t.Run("conns", func(t *testing.T) { hostileConns(t, launch, o.Conns) })
}

func usageOf(t *testing.T, p Proc) usage {
	t.Helper()
	u, err := treeUsage(p.PID)
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	return u
}

// healthz checks that the server answers /healthz on a new connection.
func healthz(t *testing.T, addr, after string) {
	t.Helper()
	resp, body, err := Fetch(addr, Request("GET", "/healthz", "Connection: close"))
	if err != nil {
		t.Fatalf("GET /healthz after %s: %v", after, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /healthz after %s = %d %q; want 200", after, resp.StatusCode, body)
	}
}

// hostileFlood pipelines GET /plain as fast as the server takes it and
// reads nothing. The server must stop reading (or close the connection)
// rather than buffer the answers: its memory may grow by FloodRSSGrowth at
// most, and it must go on serving others meanwhile.
func hostileFlood(t *testing.T, launch LaunchFunc) {
	p := launch(t, Limits{})
	healthz(t, p.Addr, "start")
	before := usageOf(t, p)

	conn, err := net.DialTimeout("tcp", p.Addr, Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chunk := []byte(strings.Repeat(Request("GET", "/plain"), 64<<10/len(Request("GET", "/plain"))))
	sent := 0
	var stop error
	for sent < floodBytes && stop == nil {
		// A server that stops reading fills the socket buffers and the write
		// blocks: that is the expected end.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		var n int
		n, stop = conn.Write(chunk)
		sent += n
	}
	peak := usageOf(t, p)
	// Another client is served while the flooder is stuck.
	healthz(t, p.Addr, fmt.Sprintf("a flood of %d MiB", sent>>20))
	grow := peak.rss - before.rss
	t.Logf("flood: sent %.1f MiB of requests, stopped by %v; server RSS %d -> %d MiB", float64(sent)/(1<<20), stop, before.rss>>20, peak.rss>>20)
	limit := int64(FloodRSSGrowth)
	if raceEnabled {
		// The race detector's shadow memory and metadata grow a heap's
		// RSS several times (loop models: ~20 MiB without it, ~65 with).
		limit *= 2
	}
	if grow > limit {
		t.Errorf("server RSS grew by %d MiB while a client pipelined %d MiB of requests without reading; want <= %d MiB", grow>>20, sent>>20, limit>>20)
	}
}

// hostileReadLate pipelines 40,000 GET /cpu (about 6 MiB of answers) on a
// connection whose receive buffer is 4 KiB, so that the answers back up into
// the server, and reads only once all are sent: a server that pauses a
// client that does not read must resume it once it reads, answering every
// request, in order (alternating iterations check the order).
func hostileReadLate(t *testing.T, launch LaunchFunc) {
	const n = 40000
	p := launch(t, Limits{})
	d := net.Dialer{Timeout: Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// Before connect, so the window is small from the start.
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	var reqs strings.Builder
	for i := range n {
		reqs.WriteString(Request("GET", fmt.Sprintf("/cpu?iters=%d", 1+i%2)))
	}
	_ = conn.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(conn, reqs.String()); err != nil {
		t.Fatalf("sending %d pipelined requests without reading: %v", n, err)
	}
	for i := range n {
		// A deadline per answer: the offload model answers a pipeline one
		// pool round trip at a time, slowly under the race detector.
		_ = conn.SetReadDeadline(time.Now().Add(Timeout))
		resp, body, err := ReadResponse(br)
		if err != nil {
			t.Fatalf("answer %d of %d: %v", i, n, err)
		}
		if want := workloads.Hash(1+i%2) + "\n"; resp.StatusCode != 200 || body != want {
			t.Fatalf("answer %d = %d %q; want 200 %q (answers out of order?)", i, resp.StatusCode, body, want)
		}
	}
}

// hostileDescriptors opens twice as many connections as the server may have
// descriptors, sends each a request, then closes them all: the server must
// survive and answer /healthz afterwards.
func hostileDescriptors(t *testing.T, launch LaunchFunc) {
	const nofile = 128
	p := launch(t, Limits{NoFile: nofile})
	healthz(t, p.Addr, "start")
	conns := make([]net.Conn, 0, 2*nofile)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 2 * nofile {
		c, err := net.DialTimeout("tcp", p.Addr, Timeout)
		if err != nil {
			t.Fatalf("dial: %v", err) // the kernel's backlog takes them all
		}
		conns = append(conns, c)
	}
	// Every connection asks; those over the limit are refused, closed, or
	// wait in the backlog. Bounded: each read gives up after 3 s.
	var answered sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for _, c := range conns {
		answered.Add(1)
		go func() {
			defer answered.Done()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			kind := "answered"
			if _, err := io.WriteString(c, Request("GET", "/healthz")); err != nil {
				kind = "write failed"
			} else if resp, _, err := ReadResponse(bufio.NewReader(c)); err != nil {
				kind = "no answer"
				if isTimeout(err) {
					kind = "waiting"
				}
			} else if resp.StatusCode != 200 {
				kind = fmt.Sprintf("status %d", resp.StatusCode)
			}
			mu.Lock()
			counts[kind]++
			mu.Unlock()
		}()
	}
	answered.Wait()
	t.Logf("descriptors: %d connections against RLIMIT_NOFILE=%d: %v", len(conns), nofile, counts)
	if counts["answered"] == 0 {
		t.Errorf("no connection answered while over the descriptor limit: %v", counts)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	// Recovered: a new client is served (a server that retries accepts may
	// take up to its backoff).
	healthz(t, p.Addr, "running out of descriptors")
}

// hostileTimeouts checks that the header, request and keep-alive timeouts
// close the connections of slow or silent clients. The timeouts are short;
// only the order of events is checked (the connection closes before the
// client would have finished), never how long it took.
func hostileTimeouts(t *testing.T, launch LaunchFunc) {
	p := launch(t, Limits{HeadersTimeout: 300 * time.Millisecond, RequestTimeout: 600 * time.Millisecond, KeepAliveTimeout: 200 * time.Millisecond})
	// waitClosed reads until the server closes conn (any answer before, a
	// 408, is read and ignored) and fails the test if it is still open
	// after Timeout.
	waitClosed := func(t *testing.T, conn net.Conn, what string) {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(Timeout))
		_, err := io.Copy(io.Discard, conn)
		if isTimeout(err) {
			t.Errorf("%s: still open after %s", what, Timeout)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, conn net.Conn)
	}{
		{"silent connection", func(t *testing.T, conn net.Conn) {
			waitClosed(t, conn, "a connection that never sends")
		}},
		{"partial header", func(t *testing.T, conn net.Conn) {
			write(t, conn, "GET /plain HTTP/1.1\r\nHost: a\r\n")
			waitClosed(t, conn, "a header block that never ends")
		}},
		{"idle keep-alive", func(t *testing.T, conn net.Conn) {
			write(t, conn, Request("GET", "/plain"))
			br := bufio.NewReader(conn)
			if resp, _, err := ReadResponse(br); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /plain: %v, %v", resp, err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(Timeout))
			if _, err := br.ReadByte(); isTimeout(err) {
				t.Errorf("an idle kept-alive connection is still open after %s", Timeout)
			}
		}},
		{"header dripped", func(t *testing.T, conn net.Conn) {
			// 100 bytes, one each 50 ms: 5 s, far beyond the 300 ms
			// headers timeout, which must count from the first byte.
			drip(t, conn, "GET /plain HTTP/1.1\r\nHost: a\r\nX-Slow: "+strings.Repeat("s", 100), "a header sent one byte at a time")
		}},
		{"body dripped", func(t *testing.T, conn net.Conn) {
			write(t, conn, "GET /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
			drip(t, conn, strings.Repeat("b", 100), "a body sent one byte at a time")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", p.Addr, Timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c.run(t, conn)
		})
	}
}

// drip sends s one byte every 50 ms, reading whatever the server answers,
// and fails unless the server closes the connection before the last byte.
func drip(t *testing.T, conn net.Conn, s, what string) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = conn.SetReadDeadline(time.Now().Add(Timeout))
		_, _ = io.Copy(io.Discard, conn)
	}()
	for i := range len(s) {
		select {
		case <-closed:
			return
		case <-time.After(50 * time.Millisecond):
		}
		_ = conn.SetWriteDeadline(time.Now().Add(Timeout))
		if _, err := io.WriteString(conn, s[i:i+1]); err != nil {
			return // closed by the server
		}
	}
	select {
	case <-closed:
	default:
		t.Errorf("%s: the connection was still open after all %d bytes", what, len(s))
	}
}

// hostileBody sends a 1 MiB body (the largest every model takes) in
// 256-byte pieces. The server must answer, keep the connection usable, and
// spend little CPU and memory on it: bodies are skipped as they arrive, not
// buffered and re-parsed per piece.
func hostileBody(t *testing.T, launch LaunchFunc) {
	p := launch(t, Limits{})
	conn, br := Dial(t, p.Addr)
	healthz(t, p.Addr, "start")
	before := usageOf(t, p)
	const size = 1 << 20
	write(t, conn, fmt.Sprintf("GET /plain HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size))
	piece := []byte(strings.Repeat("x", bodyPiece))
	// Answers may come before the body is in: read them concurrently so
	// that neither side blocks the other.
	type answer struct {
		status int
		err    error
	}
	answers := make(chan answer, 2)
	go func() {
		for range 2 {
			resp, _, err := ReadResponse(br)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{status: resp.StatusCode}
		}
	}()
	for sent := 0; sent < size; sent += bodyPiece {
		_ = conn.SetWriteDeadline(time.Now().Add(Timeout))
		if _, err := conn.Write(piece); err != nil {
			t.Fatalf("writing the body after %d bytes: %v", sent, err)
		}
	}
	write(t, conn, Request("GET", "/healthz"))
	for i, what := range []string{"GET /plain with a 1 MiB body", "GET /healthz after it"} {
		a := <-answers
		if a.err != nil || a.status != 200 {
			t.Fatalf("answer %d (%s) = %d, %v; want 200", i, what, a.status, a.err)
		}
	}
	after := usageOf(t, p)
	cpu, grow := after.cpu-before.cpu, after.rss-before.rss
	t.Logf("body: 1 MiB in %d-byte pieces cost the server %.0f ms of CPU and %d KiB of RSS", bodyPiece, cpu*1000, grow>>10)
	if limit := bodyCPU(); cpu > limit {
		t.Errorf("1 MiB body in %d-byte pieces cost %.2fs of server CPU; want <= %.2fs", bodyPiece, cpu, limit)
	}
	if grow > 16<<20 {
		t.Errorf("1 MiB body grew the server's RSS by %d MiB; want <= 16 MiB", grow>>20)
	}
}

// bodyCPU bounds the server CPU of hostileBody. Re-parsing per piece cost a
// loop 0.88 s without the race detector; skipping costs ~20 ms. The race
// detector slows the server (the test binary) several times.
func bodyCPU() float64 {
	if raceEnabled {
		return 1.5
	}
	return 0.3
}

// hostileStrict sends header blocks that peers frame differently: a folded
// line and bare-LF line ends. Node 20 answers 400 to each; so must we,
// since a lenient server behind a strict proxy takes bytes the proxy sent as
// a body for its next request.
func hostileStrict(t *testing.T, launch LaunchFunc) {
	p := launch(t, Limits{})
	for _, c := range []struct{ name, raw string }{
		{"folded line", "GET /plain HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n"},
		{"folded line with a tab", "GET /plain HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n\tb\r\n\r\n"},
		{"bare LF in the block", "GET /plain HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"},
		{"bare LF ends the block", "GET /plain HTTP/1.1\r\nHost: a\n\n"},
	} {
		resp, body, err := Fetch(p.Addr, c.raw)
		switch {
		case err != nil:
			t.Errorf("%s %q: %v; want a 400 answer", c.name, c.raw, err)
		case resp.StatusCode != 400:
			t.Errorf("%s %q = %d %q; want 400", c.name, c.raw, resp.StatusCode, body)
		}
	}
	healthz(t, p.Addr, "malformed header blocks")
}

// hostileHalfClose sends GET /io?ms=100 and shuts down the write side.
func hostileHalfClose(t *testing.T, launch LaunchFunc, halfOpen bool) {
	p := launch(t, Limits{})
	conn, br := Dial(t, p.Addr)
	write(t, conn, Request("GET", "/io?ms=100"))
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(Timeout))
	resp, _, err := ReadResponse(br)
	switch {
	case halfOpen && err != nil:
		t.Errorf("GET /io?ms=100 then shutdown(SHUT_WR): %v; want the answer (the server keeps half-open connections)", err)
	case halfOpen && resp.StatusCode != 200:
		t.Errorf("GET /io?ms=100 then shutdown(SHUT_WR) = %d; want 200", resp.StatusCode)
	case !halfOpen && err == nil:
		t.Errorf("GET /io?ms=100 then shutdown(SHUT_WR) = %d; this server was expected to close at the client's EOF (set HalfOpen)", resp.StatusCode)
	case !halfOpen && isTimeout(err):
		t.Errorf("GET /io?ms=100 then shutdown(SHUT_WR): neither answered nor closed after %s", Timeout)
	}
	healthz(t, p.Addr, "a half-closed connection")
}

// hostileConns holds n connections open at once, each waiting for a
// /io?ms=W whose wait outlasts the opening of all of them, checks that
// the server has them all in flight, reports its memory per connection, and
// reads every answer.
func hostileConns(t *testing.T, launch LaunchFunc, n int) {
	p := launch(t, Limits{MaxThreads: n})
	healthz(t, p.Addr, "start")
	before := usageOf(t, p)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// All connections are opened first, then every request is sent at once:
	// the wait only has to outlast the sending and the in-flight check,
	// however slowly a busy machine opens connections.
	const wait = 5 * time.Second
	req := Request("GET", fmt.Sprintf("/io?ms=%d", wait.Milliseconds()))
	for range n {
		c, err := net.DialTimeout("tcp", p.Addr, Timeout)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	for i, c := range conns {
		_ = c.SetWriteDeadline(time.Now().Add(Timeout))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	WaitInFlight(t, p.Addr, int64(n))
	held := usageOf(t, p)
	early := time.Since(start) >= wait
	t.Logf("conns: %d connections with a pending /io: server RSS %d -> %d MiB, %.1f KiB per connection", n, before.rss>>20, held.rss>>20, float64(held.rss-before.rss)/float64(n)/1024)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(Timeout + wait))
			resp, _, err := ReadResponse(bufio.NewReader(c))
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d connections got no 200", failed, n)
	}
	if early {
		t.Logf("opening %d connections took longer than the %s wait; the in-flight check may have seen answered requests", n, wait)
	}
}

// HostileSuite runs the hostile-client suite (a server started by
// ServeChild in a process of its own, see Launch) and the wire edge cases
// against the model newServer builds: what each model's TestHostile calls.
// Its TestMain must call ServeChild(newServer).
func HostileSuite(t *testing.T, newServer NewFunc, o HostileOptions) {
	t.Run("hostile", func(t *testing.T) { Hostile(t, Launch, o) })
	t.Run("edges", func(t *testing.T) {
		srv, err := newServer(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0"}})
		if err != nil {
			t.Fatal(err)
		}
		Edges(t, Start(t, srv))
	})
}
