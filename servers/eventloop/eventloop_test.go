package eventloop_test

import (
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
	schema "github.com/concbench/concbench/stats" // the helper stats() takes the plain name
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
	addr, _ := serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}, opts...))
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
	c := dial(t, addr)
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
		got := c.roundTrip(tc.target)
		if got.status != tc.status || !strings.HasPrefix(got.body, tc.body) || got.close {
			t.Errorf("GET %s = %d %q (close %t); want %d %q… keeping the connection", tc.target, got.status, got.body, got.close, tc.status, tc.body)
		}
		if name, value, ok := strings.Cut(tc.header, ": "); ok && got.header.Get(name) != value {
			t.Errorf("GET %s: %s = %q; want %q", tc.target, name, got.header.Get(name), value)
		}
	}
	c.send("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if got := c.read(); got.status != 405 || got.header.Get("Allow") != "GET" {
		t.Errorf("POST /plain = %d, Allow %q; want 405, GET", got.status, got.header.Get("Allow"))
	}
	if got := c.roundTrip("/plain"); got.status != 200 {
		t.Errorf("/plain after a POST with a body = %d; want 200 (the body is skipped)", got.status)
	}
}

// Pipelined requests are answered in request order, even when an early one
// completes later than the ones behind it.
func TestPipelinedAnswersKeepOrder(t *testing.T) {
	addr := start(t)
	c := dial(t, addr)
	targets := []string{
		"/io?ms=50", "/plain", "/cpu?iters=3000&chunk=100&defer=loop", "/healthz",
		"/cpu?iters=3000&chunk=100&defer=tick", "/io?ms=1", "/stats", "/plain",
		"/cpu?iters=3000&chunk=3000&defer=tick", "/cpu?iters=3000&chunk=5000&defer=loop", "/plain",
	}
	var raw []string
	for _, target := range targets {
		raw = append(raw, get(target))
	}
	c.send(raw...)
	for _, target := range targets {
		got := c.read()
		if got.status != 200 {
			t.Fatalf("%s: status %d", target, got.status)
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
		if !strings.HasPrefix(got.body, want) {
			t.Fatalf("answer for %s = %q; want it to start with %q (answers out of order)", target, got.body, want)
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
			c := dial(t, addr)
			// The request behind the closing one must never be answered.
			c.send(tc.raw, get("/plain"))
			if got := c.read(); got.status != 200 || !got.close {
				t.Fatalf("got %d close=%t; want 200 with Connection: close", got.status, got.close)
			}
			if rest, err := io.ReadAll(c.br); err != nil || len(rest) != 0 {
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
			c := dial(t, addr)
			c.send(get("/plain"), tc.raw)
			if got := c.read(); got.status != 200 {
				t.Fatalf("request before the bad one: %d", got.status)
			}
			got := c.read()
			if got.status != tc.status || !got.close {
				t.Errorf("got %d close=%t %q; want %d with Connection: close", got.status, got.close, got.body, tc.status)
			}
			if _, err := c.br.ReadByte(); err == nil {
				t.Error("connection still open after a malformed request")
			}
		})
	}
	// The server survived all of it.
	if got := dial(t, addr).roundTrip("/plain"); got.status != 200 {
		t.Fatalf("/plain after malformed input = %d", got.status)
	}
}

// A request split over many writes is parsed once it is whole.
func TestRequestInPieces(t *testing.T) {
	addr := start(t)
	c := dial(t, addr)
	raw := get("/cpu?iters=10") + get("/plain")
	for i := 0; i < len(raw); i += 7 {
		c.send(raw[i:min(i+7, len(raw))])
		time.Sleep(time.Millisecond) // let each piece arrive on its own
	}
	if got := c.read(); got.body != workloads.Hash(10)+"\n" {
		t.Fatalf("first answer %q", got.body)
	}
	if got := c.read(); got.status != 200 {
		t.Fatalf("second answer %d", got.status)
	}
}

// The heart of the model: everything runs on one loop.
func TestLoopOrdering(t *testing.T) {
	long := itersFor(300 * time.Millisecond)
	chunk := max(long/60, 1)
	for _, tc := range []struct {
		name  string
		long  string
		route workloads.Route
		want  string
	}{
		{"cpu blocks the loop", "/cpu?iters=" + strconv.Itoa(long), workloads.RouteCPU, plainAfter},
		{"defer=tick keeps the loop", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=tick", long, chunk), workloads.RouteCPU, plainAfter},
		{"defer=loop yields between chunks", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=loop", long, chunk), workloads.RouteCPU, plainFirst},
		{"async io leaves the loop free", "/io?ms=300", workloads.RouteIO, plainFirst},
		{"mode=block sleeps on the loop", "/io?ms=300&mode=block", workloads.RouteIO, plainAfter},
		{"regex blocks the loop", fmt.Sprintf("/regex?n=%d&engine=backtrack", regexNFor(300*time.Millisecond)), workloads.RouteRegex, plainAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t)
			if got := plainVersus(t, addr, tc.long, tc.route); got != tc.want {
				t.Errorf("GET %s: %s; want %s", tc.long, got, tc.want)
			}
		})
	}
}

func TestLoopDelayShowsBlocking(t *testing.T) {
	addr := start(t)
	c := dial(t, addr)
	if got := c.roundTrip("/cpu?iters=" + strconv.Itoa(itersFor(300*time.Millisecond))); got.status != 200 {
		t.Fatalf("/cpu: %d", got.status)
	}
	// The probe posted while /cpu ran is queued on the loop, but gnet runs a
	// poll round's I/O before its queued tasks, so a /stats sent now could be
	// answered before the probe records. An /io?ms=0 completes through the
	// same FIFO task queue, behind the probe: once it is answered, the probe
	// has recorded.
	if got := c.roundTrip("/io?ms=0"); got.status != 200 {
		t.Fatalf("/io: %d", got.status)
	}
	snap := stats(t, c.roundTrip("/stats"))
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
	addr, stop := serve(t, srv)
	c, idle := dial(t, addr), dial(t, addr)
	if got := idle.roundTrip("/plain"); got.status != 200 {
		t.Fatal(got.status)
	}
	c.send(get("/plain"), get("/io?ms=300"))
	if got := c.read(); got.status != 200 {
		t.Fatal(got.status)
	}
	servertest.WaitInFlight(t, addr, 1) // the /io is parsed and waiting
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	got := c.read()
	if got.status != 200 || got.body != "waited 300ms\n" || !got.close {
		t.Errorf("in-flight /io during shutdown = %d %q close=%t; want 200 with Connection: close", got.status, got.body, got.close)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v; want nil", err)
	}
	if _, err := idle.br.ReadByte(); err == nil {
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
	addr, _ := serve(t, srv)
	for _, target := range []string{"/io?ms=100", "/cpu?iters=20000&chunk=100&defer=loop"} {
		c := dial(t, addr)
		c.send(get(target))
		c.c.Close()
	}
	c := dial(t, addr)
	for i := 0; ; i++ {
		snap := stats(t, c.roundTrip("/stats"))
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
	addr, _ := serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 10 * time.Millisecond}}))
	c := dial(t, addr)
	c.send(get("/io?ms=2000"))
	junk := strings.Repeat(get("/plain"), eventloop.MaxPipelineBacklog/len(get("/plain"))+100)
	go func() { _, _ = io.WriteString(c.c, junk) }() // fails once the server closes
	if a, err := c.tryRead(); err == nil {
		t.Fatalf("got %d %q; want the connection closed", a.status, a.body)
	}
}

func TestStatsFunc(t *testing.T) {
	addr := start(t, eventloop.WithStatsFunc(func() (schema.Snapshot, error) {
		return schema.Snapshot{Model: "cluster", Restarts: 7}, nil
	}))
	snap := stats(t, dial(t, addr).roundTrip("/stats"))
	if snap.Model != "cluster" || snap.Restarts != 7 {
		t.Errorf("/stats = %+v; want the stats function's", snap)
	}
	addr = start(t, eventloop.WithStatsFunc(func() (schema.Snapshot, error) {
		return schema.Snapshot{}, errors.New("supervisor away")
	}))
	if got := dial(t, addr).roundTrip("/stats"); got.status != 503 || !strings.Contains(got.body, "supervisor away") {
		t.Errorf("/stats with a failing stats function = %d %q; want 503", got.status, got.body)
	}
}

// Two servers with WithReusePort share one port, as the cluster's children do,
// and the kernel gives each some of the connections.
func TestReusePortSharesAPort(t *testing.T) {
	first := newServer(t, servers.Config{}, eventloop.WithReusePort(true))
	addr, _ := serve(t, first)
	second := newServer(t, servers.Config{Settings: launch.Settings{Addr: addr}}, eventloop.WithReusePort(true))
	if got, _ := serve(t, second); got != addr {
		t.Fatalf("second server on %s; want %s", got, addr)
	}
	for range 64 {
		c := dial(t, addr)
		if got := c.roundTrip("/plain"); got.status != 200 {
			t.Fatal(got.status)
		}
		c.c.Close()
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
			prefix = get("/plain") + get("/io?ms=0")
		}
		c := dial(t, addr)
		c.send(prefix, string(junk), "\r\n\r\n")
		_ = c.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			if _, err := c.tryRead(); err != nil {
				break // closed, or waiting for more of an incomplete request
			}
		}
		c.c.Close()
	}
	if got := dial(t, addr).roundTrip("/healthz"); got.status != 200 {
		t.Fatalf("/healthz after random input = %d", got.status)
	}
}
