package goroutine_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/workloads"
)

func newServer(cfg servers.Config) (servers.Server, error) { return goroutine.New(cfg) }

// start serves a goroutine model on 127.0.0.1:0 for the test.
func start(t *testing.T) string {
	t.Helper()
	srv, err := goroutine.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, srv)
}

func TestConformance(t *testing.T) { servertest.Conformance(t, start(t), goroutine.Model) }
func TestWire(t *testing.T)        { servertest.Wire(t, start(t)) }
func TestMalformed(t *testing.T)   { servertest.Malformed(t, start(t)) }
func TestConfig(t *testing.T)      { servertest.Config(t, newServer) }
func TestPprof(t *testing.T)       { servertest.Pprof(t, newServer) }

func TestShutdown(t *testing.T) {
	srv, err := goroutine.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Shutdown(t, srv)
}

func TestGraceOver(t *testing.T) {
	srv, err := goroutine.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	servertest.GraceOver(t, srv)
}

// TestCPUDoesNotBlock shows goroutines are scheduled preemptively over
// threads: a /plain sent while a long /cpu runs is answered before the /cpu.
func TestCPUDoesNotBlock(t *testing.T) {
	addr := start(t)
	iters := itersFor(500 * time.Millisecond)
	target := "/cpu?iters=" + strconv.Itoa(iters)

	done := make(chan string, 2)
	cpuAnswer := make(chan string, 1)
	go func() {
		resp, body, err := servertest.Fetch(addr, servertest.Request("GET", target))
		if err != nil {
			cpuAnswer <- err.Error()
		} else {
			cpuAnswer <- strconv.Itoa(resp.StatusCode) + " " + body
		}
		done <- "cpu"
	}()
	servertest.WaitInFlight(t, addr, 1)
	if status, body, _ := servertest.Get(t, addr, "/plain"); status != 200 || body != string(workloads.PlainBody) {
		t.Errorf("GET /plain during /cpu = %d %q; want 200 %q", status, body, workloads.PlainBody)
	}
	done <- "plain"

	if first := <-done; first != "plain" {
		t.Errorf("GET %s was answered before a GET /plain sent while it ran; want /plain first", target)
	}
	if got, want := <-cpuAnswer, "200 "+workloads.Hash(iters)+"\n"; got != want {
		t.Errorf("GET %s = %q; want %q", target, got, want)
	}
}

// TestIONotThreadPerRequest shows waiting requests do not hold threads: 64
// concurrent /io?ms=1000 raise the thread count by far fewer than 64.
func TestIONotThreadPerRequest(t *testing.T) {
	const n = 64
	addr := start(t)
	idle := servertest.Stats(t, addr)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := servertest.Fetch(addr, servertest.Request("GET", "/io?ms=1000"))
			errs <- err
		}()
	}
	servertest.WaitInFlight(t, addr, n)
	busy := servertest.Stats(t, addr)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("GET /io?ms=1000: %v", err)
		}
	}
	t.Logf("OS threads: idle %d; with %d requests in flight %d", idle.OSThreads, n, busy.OSThreads)
	if rise := busy.OSThreads - idle.OSThreads; rise >= n/2 {
		t.Errorf("with %d requests waiting, OS threads rose from %d to %d; want a rise well below %d", n, idle.OSThreads, busy.OSThreads, n)
	}
}

// itersFor returns the /cpu iterations that take about d on this machine.
func itersFor(d time.Duration) int {
	h := workloads.NewHasher(workloads.MaxIters)
	n, start := 0, time.Now()
	for time.Since(start) < 20*time.Millisecond {
		h.Step(1000)
		n += 1000
	}
	iters := int(float64(n) * float64(d) / float64(time.Since(start)))
	return min(max(iters, 1000), workloads.MaxIters)
}
