package reference

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// nodeDeviations are the conformance checks real Node answers differently
// from the Go models, each with the reason (README.md lists them).
var nodeDeviations = map[string]string{
	servertest.CheckRuntime: "Node has no Go runtime: /stats carries no runtime/metrics figures",
}

// node is one running Node.js reference server.
type node struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedWriter
	exited chan error // receives Wait's result once
}

// startNode runs model on 127.0.0.1:0, waits for its listening line, and
// registers a cleanup that sends SIGTERM and fails the test unless the
// server exits 0 within servertest.Timeout. It skips the test when Node.js
// is not installed.
func startNode(t *testing.T, model string, cfg launch.Settings) *node {
	t.Helper()
	if ok, reason := NodeAvailable(); !ok {
		t.Skip(reason)
	}
	cfg.Addr = "127.0.0.1:0"
	cmd, err := NodeCommand(model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Its own process group, so that the cleanup can kill a cluster's
	// children too if the primary does not stop them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, stderr: &lockedWriter{w: &strings.Builder{}}, exited: make(chan error, 1)}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { n.exited <- cmd.Wait() }()
	t.Cleanup(func() { n.stop(t) })
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("%s printed %q; want %q", model, line, "listening on HOST:PORT")
		}
		n.addr = addr
	case err := <-n.exited:
		n.exited <- err
		t.Fatalf("%s exited before listening: %v; stderr: %s", model, err, n.stderr)
	case <-time.After(servertest.Timeout):
		t.Fatalf("%s did not print its listening line within %s", model, servertest.Timeout)
	}
	return n
}

// stop sends SIGTERM and fails t unless the server exits 0 in time.
func (n *node) stop(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		n.exited <- err
		if err != nil {
			t.Errorf("after SIGTERM: %v; want exit 0; stderr: %s", err, n.stderr)
		}
	case <-time.After(servertest.Timeout):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("still running %s after SIGTERM", servertest.Timeout)
	}
}

func TestNodeConformance(t *testing.T) {
	for _, tc := range []struct {
		model string
		cfg   launch.Settings
	}{
		{NodeLoop, launch.Settings{}},
		{NodePool, launch.Settings{}},
		{NodeCluster, launch.Settings{Tuning: launch.Tuning{Procs: 2}}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			n := startNode(t, tc.model, tc.cfg)
			t.Run("conformance", func(t *testing.T) {
				servertest.ConformanceExcept(t, n.addr, tc.model, nodeDeviations)
			})
			t.Run("wire", func(t *testing.T) { servertest.Wire(t, n.addr) })
			t.Run("malformed", func(t *testing.T) { servertest.Malformed(t, n.addr) })
		})
	}
}

// Completion orders plainVersus reports.
const (
	plainFirst = "/plain answered before the long request"
	plainAfter = "/plain answered after the long request"
)

// plainVersus sends long, then /plain on another connection, and reports
// which was answered first. It tells by /stats, not by clocks: the second
// connection sends /stats, /plain, /stats, which the loop handles in that
// order. A first /stats that already counts long (route) as completed proves
// the /plain came after it; a last /stats that does not count it yet proves
// the /plain came first. Counts are against a reading taken before long is
// sent, so one server serves several cases in turn. The server has begun long once the /plain pipelined in
// front of it on the first connection is answered: Node handles a
// connection's pipelined requests in order and writes the first answer before
// it calls the handler of the next.
func plainVersus(t *testing.T, addr, long string, route workloads.Route) string {
	t.Helper()
	a, ar := servertest.Dial(t, addr)
	b, br := servertest.Dial(t, addr)
	send := func(c io.Writer, targets ...string) {
		t.Helper()
		var raw strings.Builder
		for _, target := range targets {
			raw.WriteString(servertest.Request("GET", target))
		}
		if _, err := io.WriteString(c, raw.String()); err != nil {
			t.Fatal(err)
		}
	}
	read := func(r *bufio.Reader, what string) (int, string) {
		t.Helper()
		resp, body, err := servertest.ReadResponse(r)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return resp.StatusCode, body
	}
	completed := func(r *bufio.Reader, what string) uint64 {
		t.Helper()
		status, body := read(r, what)
		if status != 200 {
			t.Fatalf("/stats = %d %q", status, body)
		}
		var snap stats.Snapshot
		if err := decodeSnapshot(body, &snap); err != nil {
			t.Fatalf("/stats: %v: %q", err, body)
		}
		return snap.Completed[route.String()]
	}
	// On its own connection: b would sit idle through long, and Node closes
	// a kept-alive connection idle for 5 s.
	base := servertest.Stats(t, addr).Completed[route.String()]
	send(a, "/plain", long)
	if status, _ := read(ar, "pipelined /plain"); status != 200 {
		t.Fatalf("pipelined /plain: status %d", status)
	}
	send(b, "/stats", "/plain", "/stats")
	before := completed(br, "first /stats")
	if status, body := read(br, "/plain"); status != 200 || body != string(workloads.PlainBody) {
		t.Fatalf("/plain = %d %q", status, body)
	}
	after := completed(br, "last /stats")
	if status, body := read(ar, long); status != 200 {
		t.Fatalf("%s: status %d: %s", long, status, body)
	}
	switch {
	case before == base+1:
		return plainAfter
	case after == base:
		return plainFirst
	}
	t.Fatalf("%s completed between two requests handled in one go (counts %d, %d, %d)", long, base, before, after)
	return ""
}

// itersFor returns /cpu iterations that keep Node busy for at least about
// d: a SHA-256 round in Node (a crypto.Hash object per round) takes 1-2 µs
// on an idle machine. The tests depend on order, not on the duration.
func itersFor(d time.Duration) int { return int(d / time.Microsecond) }

func TestNodeOrdering(t *testing.T) {
	long := itersFor(100 * time.Millisecond)
	chunk := long / 50
	cpu := "/cpu?iters=" + strconv.Itoa(long)
	// One server per model serves its cases in turn.
	nodes := map[string]*node{NodeLoop: startNode(t, NodeLoop, launch.Settings{}), NodePool: startNode(t, NodePool, launch.Settings{})}
	for _, tc := range []struct {
		model string
		name  string
		long  string
		route workloads.Route
		want  string
	}{
		{NodeLoop, "cpu blocks the loop", cpu, workloads.RouteCPU, plainAfter},
		{NodeLoop, "nextTick keeps the loop", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=tick", long, chunk), workloads.RouteCPU, plainAfter},
		{NodeLoop, "setImmediate yields between chunks", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=loop", long, chunk), workloads.RouteCPU, plainFirst},
		{NodeLoop, "async io leaves the loop free", "/io?ms=300", workloads.RouteIO, plainFirst},
		{NodeLoop, "mode=block sleeps on the loop", "/io?ms=300&mode=block", workloads.RouteIO, plainAfter},
		{NodeLoop, "regex blocks the loop", "/regex?n=22&engine=backtrack", workloads.RouteRegex, plainAfter},
		{NodeLoop, "a bounded regex blocks the loop too", "/regex?n=22&engine=backtrack&timeout_ms=60000", workloads.RouteRegex, plainAfter},
		{NodePool, "cpu runs on the pool", cpu, workloads.RouteCPU, plainFirst},
		{NodePool, "regex runs on the pool", "/regex?n=25&engine=backtrack", workloads.RouteRegex, plainFirst},
		{NodePool, "mode=block still sleeps on the loop", "/io?ms=300&mode=block", workloads.RouteIO, plainAfter},
	} {
		t.Run(tc.model+"/"+tc.name, func(t *testing.T) {
			n := nodes[tc.model]
			if got := plainVersus(t, n.addr, tc.long, tc.route); got != tc.want {
				t.Errorf("%s: GET %s: %s; want %s", tc.model, tc.long, got, tc.want)
			}
		})
	}
}

// TestNodePoolQueueFull fills a pool of one worker and a queue of one job
// with slow /cpu requests: the third is refused at once with the offload
// model's 503.
func TestNodePoolQueueFull(t *testing.T) {
	n := startNode(t, NodePool, launch.Settings{Tuning: launch.Tuning{Workers: 1, Queue: 1}})
	long := "/cpu?iters=" + strconv.Itoa(itersFor(2*time.Second))
	for i := range 2 {
		c, _ := servertest.Dial(t, n.addr)
		if _, err := io.WriteString(c, servertest.Request("GET", long)); err != nil {
			t.Fatal(err)
		}
		servertest.WaitInFlight(t, n.addr, int64(i+1))
	}
	snap := servertest.Stats(t, n.addr)
	if p := snap.Pool; p == nil || p.Busy != 1 || p.QueueDepth != 1 {
		t.Fatalf("/stats pool = %+v; want 1 busy, 1 queued", p)
	}
	status, body, h := servertest.Get(t, n.addr, long)
	if status != 503 || body != "overloaded: worker queue full\n" || h.Get("Retry-After") != "1" {
		t.Errorf("GET %s with a full queue = %d %q (Retry-After %q); want 503 %q, Retry-After 1",
			long, status, body, h.Get("Retry-After"), "overloaded: worker queue full\n")
	}
	if snap := servertest.Stats(t, n.addr); snap.Pool.Rejected != 1 {
		t.Errorf("/stats pool rejected = %d; want 1", snap.Pool.Rejected)
	}
}

// TestNodeRegexTimeout checks that a timed-out match leaves the server
// serving, in each mode: the pool replaces the terminated worker, the loop
// its watchdog thread.
func TestNodeRegexTimeout(t *testing.T) {
	for _, model := range []string{NodeLoop, NodePool} {
		t.Run(model, func(t *testing.T) {
			n := startNode(t, model, launch.Settings{Tuning: launch.Tuning{Workers: 1}})
			for range 3 {
				status, body, _ := servertest.Get(t, n.addr, "/regex?n=40&engine=backtrack&timeout_ms=20")
				if want := "regex: backtracking match timed out after 20ms (n=40)\n"; status != 503 || body != want {
					t.Errorf("bounded ReDoS = %d %q; want 503 %q", status, body, want)
				}
			}
			if status, body, _ := servertest.Get(t, n.addr, "/regex?n=12&engine=backtrack&timeout_ms=5000"); status != 200 || body != "no match\n" {
				t.Errorf("after three timeouts, a short match = %d %q; want 200 %q", status, body, "no match\n")
			}
		})
	}
}

// TestNodeStats checks the figures Node fills in: a loop-delay histogram
// that Go decodes, and for the pool its size.
func TestNodeStats(t *testing.T) {
	n := startNode(t, NodePool, launch.Settings{Tuning: launch.Tuning{Workers: 3, Queue: 7}})
	servertest.Get(t, n.addr, "/cpu?iters=10")
	snap := servertest.Stats(t, n.addr)
	if snap.RSSBytes <= 0 || snap.OSThreads <= 0 || len(snap.PIDs) != 1 {
		t.Errorf("/stats rss %d, threads %d, pids %v; want positive figures and one pid", snap.RSSBytes, snap.OSThreads, snap.PIDs)
	}
	d := snap.LoopDelay
	if d == nil || d.Count == 0 {
		t.Fatalf("/stats loop_delay = %+v; want samples", d)
	}
	h, err := d.Decode()
	if err != nil {
		t.Fatalf("loop_delay hdr: %v", err)
	}
	if h.TotalCount() != d.Count || h.ValueAtQuantile(99) != d.P99Us || h.Max() != d.MaxUs {
		t.Errorf("loop_delay hdr decodes to count %d, p99 %d, max %d; the summary says %d, %d, %d",
			h.TotalCount(), h.ValueAtQuantile(99), h.Max(), d.Count, d.P99Us, d.MaxUs)
	}
	if p := snap.Pool; p == nil || p.Workers != 3 || p.QueueCap != 7 || p.QueueWait.Count != 1 {
		t.Errorf("/stats pool = %+v; want 3 workers, queue 7, one queue wait", p)
	}
}

// TestNodeClusterServes checks that a cluster of two children serves and
// that /stats sums both children.
func TestNodeClusterServes(t *testing.T) {
	n := startNode(t, NodeCluster, launch.Settings{Tuning: launch.Tuning{Procs: 2}})
	for range 10 {
		if status, body, _ := servertest.Get(t, n.addr, "/plain"); status != 200 || body != string(workloads.PlainBody) {
			t.Fatalf("GET /plain = %d %q", status, body)
		}
	}
	snap := servertest.Stats(t, n.addr)
	if len(snap.Procs) != 2 || len(snap.PIDs) != 3 {
		t.Fatalf("/stats procs %d, pids %v; want 2 children and 3 pids", len(snap.Procs), snap.PIDs)
	}
	var sum uint64
	for _, p := range snap.Procs {
		sum += p.Completed["plain"]
		if p.Model != NodeLoop {
			t.Errorf("child model %q; want %q", p.Model, NodeLoop)
		}
	}
	if snap.Completed["plain"] != 10 || sum != 10 {
		t.Errorf("/stats completed[plain] = %d, children's sum %d; want 10", snap.Completed["plain"], sum)
	}
}

// TestNodeShutdownFinishesInFlight sends SIGTERM while a request is in
// flight: it is answered, and the server exits 0.
func TestNodeShutdownFinishesInFlight(t *testing.T) {
	for _, model := range NodeModels {
		t.Run(model, func(t *testing.T) {
			n := startNode(t, model, launch.Settings{Tuning: launch.Tuning{Procs: 2}})
			done := make(chan error, 1)
			go func() {
				resp, body, err := servertest.Fetch(n.addr, servertest.Request("GET", "/io?ms=500"))
				if err == nil && (resp.StatusCode != 200 || body != "waited 500ms\n") {
					err = fmt.Errorf("answered %d %q", resp.StatusCode, body)
				}
				done <- err
			}()
			servertest.WaitInFlight(t, n.addr, 1)
			if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Errorf("/io?ms=500 in flight at SIGTERM: %v; want 200", err)
			}
			select {
			case err := <-n.exited:
				n.exited <- err
				if err != nil {
					t.Errorf("exit after SIGTERM: %v; want 0; stderr: %s", err, n.stderr)
				}
			case <-time.After(servertest.Timeout):
				t.Errorf("still running %s after SIGTERM", servertest.Timeout)
			}
		})
	}
}

// TestNodeCommandRejects checks the errors NodeCommand and the script give
// before anything listens.
func TestNodeCommandRejects(t *testing.T) {
	if _, err := NodeCommand("node-threads", launch.Settings{}); err == nil {
		t.Error(`NodeCommand("node-threads") = nil error; want unknown model`)
	}
	if _, err := NodeCommand(NodeLoop, launch.Settings{Addr: "0.0.0.0:0"}); err == nil {
		t.Error("NodeCommand with addr 0.0.0.0:0 = nil error; want not loopback")
	}
	if ok, reason := NodeAvailable(); !ok {
		t.Skip(reason)
	}
	// The script checks its own command line too, for callers that build it
	// by hand.
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := nodeInfo()
	for _, args := range [][]string{
		{"--addr", "10.0.0.1:80"},
		{"--mode", "threads"},
		{"--workers", "0"},
		{"--grace", "soon"},
		{"--bogus", "1"},
	} {
		out, err := exec.Command(f.bin, append([]string{script}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.HasPrefix(string(out), "serve: ") {
			t.Errorf("node server.js %v = %v, %q; want exit 2 and one line starting serve:", args, err, out)
		}
	}
}

// lockedWriter serializes writes to w: exec copies stderr from its own
// goroutine while a failing test reads it.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// decodeSnapshot decodes a /stats body, refusing fields the Go schema lacks.
func decodeSnapshot(body string, snap *stats.Snapshot) error {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(snap)
}

// TestNodeClusterSkipsABlockedChild pins the balancing concbench's cluster
// model is compared against: Node's primary hands each new connection to a
// child that has taken the previous one, so while one of two children
// sleeps on its loop at most one new connection waits behind it (with
// SO_REUSEPORT about half would). Told by completion order: each /plain is
// checked against whether the blocking request had been answered yet.
func TestNodeClusterSkipsABlockedChild(t *testing.T) {
	n := startNode(t, NodeCluster, launch.Settings{Tuning: launch.Tuning{Procs: 2}})
	const block = "/io?ms=5000&mode=block"
	a, ar := servertest.Dial(t, n.addr)
	// The pipelined /plain's answer proves the child has begun the block.
	if _, err := io.WriteString(a, servertest.Request("GET", "/plain")+servertest.Request("GET", block)); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := servertest.ReadResponse(ar); err != nil || resp.StatusCode != 200 {
		t.Fatalf("pipelined /plain: %v", err)
	}
	var blocked atomic.Bool
	blockDone := make(chan error, 1)
	go func() {
		resp, _, err := servertest.ReadResponse(ar)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		blocked.Store(true)
		blockDone <- err
	}()
	const conns = 10
	late := make(chan bool, conns)
	for range conns {
		go func() {
			resp, _, err := servertest.Fetch(n.addr, servertest.Request("GET", "/plain"))
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("GET /plain on a new connection: %v", err)
			}
			late <- blocked.Load()
		}()
	}
	waited := 0
	for range conns {
		if <-late {
			waited++
		}
	}
	if err := <-blockDone; err != nil {
		t.Fatalf("GET %s: %v", block, err)
	}
	if waited > 1 {
		t.Errorf("%d of %d new connections were answered only after the blocked child woke; want at most 1", waited, conns)
	}
}
