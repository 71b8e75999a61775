package eventloop_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

var _ servers.Server = (*eventloop.Server)(nil)

func newServer(t testing.TB, cfg servers.Config, opts ...eventloop.Option) *eventloop.Server {
	t.Helper()
	srv, err := eventloop.NewWithOptions(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func start(t *testing.T, opts ...eventloop.Option) string {
	t.Helper()
	addr, _ := servertest.Serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}, opts...))
	return addr
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []servers.Config{
		{Settings: launch.Settings{Addr: "10.1.2.3:80"}},
		{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: -time.Second}},
	} {
		if _, err := eventloop.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error; want one", cfg)
		}
	}
}

func TestServeFailsWhenPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := newServer(t, servers.Config{Settings: launch.Settings{Addr: ln.Addr().String()}})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), func(net.Addr) { t.Error("ready called") }) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve on a taken port = nil; want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve on a taken port did not return")
	}
}

func TestRoutes(t *testing.T) {
	addr := start(t)
	c := servertest.NewClient(t, addr)
	hash := workloads.Hash(1000)
	for _, tc := range []struct {
		target string
		status int
		body   string // prefix
		header string // "Name: value" that must be present
	}{
		{"/plain", 200, string(workloads.PlainBody), "Content-Type: " + workloads.TextPlain},
		{"/healthz", 200, "ok\n", ""},
		{"/io?ms=1", 200, "waited 1ms\n", ""},
		{"/io?ms=1&mode=block", 200, "waited 1ms (blocking)\n", ""},
		{"/cpu?iters=1000", 200, hash + "\n", ""},
		{"/cpu?iters=1000&chunk=7&defer=tick", 200, hash + "\n", ""},
		{"/cpu?iters=1000&chunk=7&defer=loop", 200, hash + "\n", ""},
		{"/regex?n=5&engine=backtrack", 200, "no match\n", ""},
		{"/regex?n=5&engine=re2", 200, "no match\n", ""},
		{"/stats", 200, `{"model":"eventloop"`, "Content-Type: " + workloads.JSON},
		{"/nope", 404, "not found", ""},
		{"/plain?x=1", 400, "unknown parameter", ""},
		{"/cpu?iters=0", 400, "parameter iters", ""},
	} {
		got := c.RoundTrip(tc.target)
		if got.Status != tc.status || !strings.HasPrefix(got.Body, tc.body) || got.Close {
			t.Errorf("GET %s = %d %q (close %t); want %d %q… keeping the connection", tc.target, got.Status, got.Body, got.Close, tc.status, tc.body)
		}
		if name, value, ok := strings.Cut(tc.header, ": "); ok && got.Header.Get(name) != value {
			t.Errorf("GET %s: %s = %q; want %q", tc.target, name, got.Header.Get(name), value)
		}
	}
	c.Send("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if got := c.Read(); got.Status != 405 || got.Header.Get("Allow") != "GET" {
		t.Errorf("POST /plain = %d, Allow %q; want 405, GET", got.Status, got.Header.Get("Allow"))
	}
	if got := c.RoundTrip("/plain"); got.Status != 200 {
		t.Errorf("/plain after a POST with a body = %d; want 200 (the body is skipped)", got.Status)
	}
}

// Pipelined requests are answered in request order, even when an early one
// completes later than the ones behind it.
func TestPipelinedAnswersKeepOrder(t *testing.T) {
	addr := start(t)
	c := servertest.NewClient(t, addr)
	targets := []string{
		"/io?ms=50", "/plain", "/cpu?iters=3000&chunk=100&defer=loop", "/healthz",
		"/cpu?iters=3000&chunk=100&defer=tick", "/io?ms=1", "/stats", "/plain",
		"/cpu?iters=3000&chunk=3000&defer=tick", "/cpu?iters=3000&chunk=5000&defer=loop", "/plain",
	}
	var raw []string
	for _, target := range targets {
		raw = append(raw, servertest.Request("GET", target))
	}
	c.Send(raw...)
	for _, target := range targets {
		got := c.Read()
		if got.Status != 200 {
			t.Fatalf("%s: status %d", target, got.Status)
		}
		var want string
		switch {
		case strings.HasPrefix(target, "/io"):
			want = "waited"
		case strings.HasPrefix(target, "/cpu"):
			want = workloads.Hash(3000)
		case target == "/plain":
			want = string(workloads.PlainBody)
		case target == "/healthz":
			want = "ok"
		case target == "/stats":
			want = "{"
		}
		if !strings.HasPrefix(got.Body, want) {
			t.Fatalf("answer for %s = %q; want it to start with %q (answers out of order)", target, got.Body, want)
		}
	}
}

func TestConnectionClose(t *testing.T) {
	addr := start(t)
	for _, tc := range []struct{ name, raw string }{
		{"close header", "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
		{"HTTP/1.0", "GET /plain HTTP/1.0\r\n\r\n"},
		{"close on async", "GET /io?ms=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := servertest.NewClient(t, addr)
			// The request behind the closing one must never be answered.
			c.Send(tc.raw, servertest.Request("GET", "/plain"))
			if got := c.Read(); got.Status != 200 || !got.Close {
				t.Fatalf("got %d close=%t; want 200 with Connection: close", got.Status, got.Close)
			}
			if rest, err := io.ReadAll(c.R); err != nil || len(rest) != 0 {
				t.Fatalf("after the closing answer: %q, %v; want EOF", rest, err)
			}
		})
	}
}

func TestMalformedAnswersAndCloses(t *testing.T) {
	addr := start(t)
	for _, tc := range []struct {
		name   string
		raw    string
		status int
	}{
		{"garbage line", "\x16\x03\x01 hello\r\n\r\n", 400},
		{"no host", "GET /plain HTTP/1.1\r\n\r\n", 400},
		{"bad version", "GET /plain HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"chunked body", "GET /plain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
		{"huge header", "GET /plain HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
		{"huge body", "GET /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413},
		{"bare LF", "GET /plain HTTP/1.1\nHost: x\n\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := servertest.NewClient(t, addr)
			c.Send(servertest.Request("GET", "/plain"), tc.raw)
			if got := c.Read(); got.Status != 200 {
				t.Fatalf("request before the bad one: %d", got.Status)
			}
			got := c.Read()
			if got.Status != tc.status || !got.Close {
				t.Errorf("got %d close=%t %q; want %d with Connection: close", got.Status, got.Close, got.Body, tc.status)
			}
			if _, err := c.R.ReadByte(); err == nil {
				t.Error("connection still open after a malformed request")
			}
		})
	}
	// The server survived all of it.
	if got := servertest.NewClient(t, addr).RoundTrip("/plain"); got.Status != 200 {
		t.Fatalf("/plain after malformed input = %d", got.Status)
	}
}

// A request split over many writes is parsed once it is whole.
func TestRequestInPieces(t *testing.T) {
	addr := start(t)
	c := servertest.NewClient(t, addr)
	raw := servertest.Request("GET", "/cpu?iters=10") + servertest.Request("GET", "/plain")
	for i := 0; i < len(raw); i += 7 {
		c.Send(raw[i:min(i+7, len(raw))])
		time.Sleep(time.Millisecond) // let each piece arrive on its own
	}
	if got := c.Read(); got.Body != workloads.Hash(10)+"\n" {
		t.Fatalf("first answer %q", got.Body)
	}
	if got := c.Read(); got.Status != 200 {
		t.Fatalf("second answer %d", got.Status)
	}
}

// The heart of the model: everything runs on one loop.
func TestLoopOrdering(t *testing.T) {
	long := servertest.ItersFor(300 * time.Millisecond)
	chunk := max(long/60, 1)
	for _, tc := range []struct {
		name  string
		long  string
		route workloads.Route
		want  string
	}{
		{"cpu blocks the loop", "/cpu?iters=" + strconv.Itoa(long), workloads.RouteCPU, servertest.PlainAfter},
		{"defer=tick keeps the loop", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=tick", long, chunk), workloads.RouteCPU, servertest.PlainAfter},
		{"defer=loop yields between chunks", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=loop", long, chunk), workloads.RouteCPU, servertest.PlainFirst},
		{"async io leaves the loop free", "/io?ms=300", workloads.RouteIO, servertest.PlainFirst},
		{"mode=block sleeps on the loop", "/io?ms=300&mode=block", workloads.RouteIO, servertest.PlainAfter},
		{"regex blocks the loop", fmt.Sprintf("/regex?n=%d&engine=backtrack", servertest.RegexNFor(300*time.Millisecond)), workloads.RouteRegex, servertest.PlainAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t)
			if got := servertest.PlainVersus(t, addr, tc.long, tc.route); got != tc.want {
				t.Errorf("GET %s: %s; want %s", tc.long, got, tc.want)
			}
		})
	}
}

func TestLoopDelayShowsBlocking(t *testing.T) {
	addr := start(t)
	c := servertest.NewClient(t, addr)
	if got := c.RoundTrip("/cpu?iters=" + strconv.Itoa(servertest.ItersFor(300*time.Millisecond))); got.Status != 200 {
		t.Fatalf("/cpu: %d", got.Status)
	}
	// The probe posted while /cpu ran is queued on the loop, but gnet runs a
	// poll round's I/O before its queued tasks, so a /stats sent now could be
	// answered before the probe records. An /io?ms=0 completes through the
	// same FIFO task queue, behind the probe: once it is answered, the probe
	// has recorded.
	if got := c.RoundTrip("/io?ms=0"); got.Status != 200 {
		t.Fatalf("/io: %d", got.Status)
	}
	snap := c.RoundTrip("/stats").Snapshot(t)
	if snap.Model != eventloop.Model {
		t.Errorf("model %q; want %q", snap.Model, eventloop.Model)
	}
	if snap.LoopDelay == nil {
		t.Fatal("no loop_delay in /stats")
	}
	if d := snap.LoopDelay; d.Count == 0 || d.MaxUs <= 100_000 {
		t.Errorf("loop_delay count %d, max %dµs; want samples and a max above 100ms after a 300ms /cpu", d.Count, d.MaxUs)
	}
	if snap.Pool != nil {
		t.Errorf("pool %+v in /stats of a server without one", snap.Pool)
	}
	if h, err := snap.LoopDelay.Decode(); err != nil || h.TotalCount() != snap.LoopDelay.Count {
		t.Errorf("loop_delay hdr decodes to %v, %v; want %d values", h, err, snap.LoopDelay.Count)
	}
}

func TestGracefulShutdownAnswersInFlight(t *testing.T) {
	srv := newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}})
	addr, stop := servertest.Serve(t, srv)
	c, idle := servertest.NewClient(t, addr), servertest.NewClient(t, addr)
	if got := idle.RoundTrip("/plain"); got.Status != 200 {
		t.Fatal(got.Status)
	}
	c.Send(servertest.Request("GET", "/plain"), servertest.Request("GET", "/io?ms=300"))
	if got := c.Read(); got.Status != 200 {
		t.Fatal(got.Status)
	}
	servertest.WaitInFlight(t, addr, 1) // the /io is parsed and waiting
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	got := c.Read()
	if got.Status != 200 || got.Body != "waited 300ms\n" || !got.Close {
		t.Errorf("in-flight /io during shutdown = %d %q close=%t; want 200 with Connection: close", got.Status, got.Body, got.Close)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v; want nil", err)
	}
	if _, err := idle.R.ReadByte(); err == nil {
		t.Error("idle connection still open after shutdown")
	}
	if snap := srv.Snapshot(); snap.InFlight != 0 {
		t.Errorf("in flight after shutdown: %d", snap.InFlight)
	}
}

// A client that leaves while its request is pending costs nothing but the
// work: the server stays up and the in-flight count returns to zero.
func TestClientLeavesWhilePending(t *testing.T) {
	srv := newServer(t, servers.Config{})
	addr, _ := servertest.Serve(t, srv)
	for _, target := range []string{"/io?ms=100", "/cpu?iters=20000&chunk=100&defer=loop"} {
		c := servertest.NewClient(t, addr)
		c.Send(servertest.Request("GET", target))
		c.Conn.Close()
	}
	c := servertest.NewClient(t, addr)
	for i := 0; ; i++ {
		snap := c.RoundTrip("/stats").Snapshot(t)
		if snap.InFlight == 1 { // this /stats
			break
		}
		if i == 200 {
			t.Fatalf("in flight stays %d after the clients left", snap.InFlight)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPipelineBacklogIsBounded(t *testing.T) {
	// A short grace: the abandoned /io need not be waited for at the end.
	addr, _ := servertest.Serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 10 * time.Millisecond}}))
	c := servertest.NewClient(t, addr)
	c.Send(servertest.Request("GET", "/io?ms=2000"))
	junk := strings.Repeat(servertest.Request("GET", "/plain"), eventloop.MaxPipelineBacklog/len(servertest.Request("GET", "/plain"))+100)
	go func() { _, _ = io.WriteString(c.Conn, junk) }() // fails once the server closes
	if a, err := c.TryRead(); err == nil {
		t.Fatalf("got %d %q; want the connection closed", a.Status, a.Body)
	}
}

func TestStatsFunc(t *testing.T) {
	addr := start(t, eventloop.WithStatsFunc(func() (stats.Snapshot, error) {
		return stats.Snapshot{Model: "cluster", Restarts: 7}, nil
	}))
	snap := servertest.NewClient(t, addr).RoundTrip("/stats").Snapshot(t)
	if snap.Model != "cluster" || snap.Restarts != 7 {
		t.Errorf("/stats = %+v; want the stats function's", snap)
	}
	addr = start(t, eventloop.WithStatsFunc(func() (stats.Snapshot, error) {
		return stats.Snapshot{}, errors.New("supervisor away")
	}))
	if got := servertest.NewClient(t, addr).RoundTrip("/stats"); got.Status != 503 || !strings.Contains(got.Body, "supervisor away") {
		t.Errorf("/stats with a failing stats function = %d %q; want 503", got.Status, got.Body)
	}
}

// Two servers with WithReusePort share one port, as the cluster's children do,
// and the kernel gives each some of the connections.
func TestReusePortSharesAPort(t *testing.T) {
	first := newServer(t, servers.Config{}, eventloop.WithReusePort(true))
	addr, _ := servertest.Serve(t, first)
	second := newServer(t, servers.Config{Settings: launch.Settings{Addr: addr}}, eventloop.WithReusePort(true))
	if got, _ := servertest.Serve(t, second); got != addr {
		t.Fatalf("second server on %s; want %s", got, addr)
	}
	for range 64 {
		c := servertest.NewClient(t, addr)
		if got := c.RoundTrip("/plain"); got.Status != 200 {
			t.Fatal(got.Status)
		}
		c.Conn.Close()
	}
	n1, n2 := first.Snapshot().Completed["plain"], second.Snapshot().Completed["plain"]
	if n1+n2 != 64 || n1 == 0 || n2 == 0 {
		t.Errorf("plain answered %d and %d times; want 64 split over both", n1, n2)
	}
}

// Random bytes, alone or after valid requests, get 4xx/5xx answers or a
// closed connection, never a dead server.
func TestRandomInputNeverKillsTheServer(t *testing.T) {
	addr := start(t)
	rng := rand.New(rand.NewPCG(1, 2)) // seeded: a failure replays
	alphabet := []byte("GET /plain?ms=1&HTTP/1.1\r\n: Host\x00\xff%+ ")
	for i := range 200 {
		junk := make([]byte, 1+rng.IntN(300))
		for j := range junk {
			if rng.IntN(4) == 0 {
				junk[j] = byte(rng.IntN(256))
			} else {
				junk[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		prefix := ""
		if i%2 == 0 {
			prefix = servertest.Request("GET", "/plain") + servertest.Request("GET", "/io?ms=0")
		}
		c := servertest.NewClient(t, addr)
		c.Send(prefix, string(junk), "\r\n\r\n")
		_ = c.Conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			if _, err := c.TryRead(); err != nil {
				break // closed, or waiting for more of an incomplete request
			}
		}
		c.Conn.Close()
	}
	if got := servertest.NewClient(t, addr).RoundTrip("/healthz"); got.Status != 200 {
		t.Fatalf("/healthz after random input = %d", got.Status)
	}
}

// TestAdopt hands the loop connections accepted on another listener (as a
// cluster child is handed its supervisor's): each is served like one the loop
// accepted, and Adopt returns only once the loop has opened it, so a loop
// busy with a blocking request holds the caller up until it is done.
func TestAdopt(t *testing.T) {
	srv := newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}})
	if err := srv.Adopt(context.Background(), nopConn{}); err == nil {
		t.Error("Adopt before Serve = nil; want an error")
	}
	addr, _ := servertest.Serve(t, srv)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// dialAdopted dials the other listener and hands the accepted end to the
	// loop; adopted receives Adopt's result.
	dialAdopted := func() (net.Conn, *bufio.Reader, <-chan error) {
		c, br := servertest.Dial(t, other.Addr().String())
		sc, err := other.Accept()
		if err != nil {
			t.Fatal(err)
		}
		adopted := make(chan error, 1)
		go func() { adopted <- srv.Adopt(context.Background(), sc) }()
		return c, br, adopted
	}

	c, br, adopted := dialAdopted()
	if err := <-adopted; err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if _, err := io.WriteString(c, servertest.Request("GET", "/plain")); err != nil {
		t.Fatal(err)
	}
	if resp, body, err := servertest.ReadResponse(br); err != nil || resp.StatusCode != 200 || body != string(workloads.PlainBody) {
		t.Fatalf("GET /plain on an adopted connection: %v %q", err, body)
	}

	// Block the loop; a connection adopted meanwhile opens only after the
	// block's answer is written.
	b, bbr := servertest.Dial(t, addr)
	if _, err := io.WriteString(b, servertest.Request("GET", "/plain")+servertest.Request("GET", "/io?ms=300&mode=block")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := servertest.ReadResponse(bbr); err != nil {
		t.Fatal(err)
	}
	_, _, adopted = dialAdopted()
	if err := <-adopted; err != nil {
		t.Fatalf("Adopt during a block: %v", err)
	}
	// The loop opened the connection only after the block's callback had
	// answered (and counted) it.
	if got := srv.Snapshot().Completed["io"]; got != 1 {
		t.Errorf("Adopt returned with completed[io] = %d; want 1: the loop was still blocked", got)
	}
	if resp, _, err := servertest.ReadResponse(bbr); err != nil || resp.StatusCode != 200 {
		t.Errorf("blocking request: %v", err)
	}
}

// nopConn is a net.Conn that is never used: Adopt must refuse it before Serve.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }
