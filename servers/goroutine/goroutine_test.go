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

func TestSuite(t *testing.T) { servertest.Suite(t, goroutine.Model, newServer) }

// TestCPUDoesNotBlock shows goroutines are scheduled preemptively over
// threads: a /plain sent while a long /cpu runs is answered before the /cpu.
func TestCPUDoesNotBlock(t *testing.T) {
	addr := start(t)
	iters := servertest.ItersFor(500 * time.Millisecond)
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
