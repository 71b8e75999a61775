package offload_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/offload"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/workloads"
)

var (
	_ servers.Server      = (*offload.Server)(nil)
	_ eventloop.Offloader = (*offload.Pool)(nil)
)

func newServer(t *testing.T, cfg servers.Config) *offload.Server {
	t.Helper()
	srv, err := offload.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func newModel(cfg servers.Config) (servers.Server, error) { return offload.New(cfg) }

func TestConformance(t *testing.T) {
	addr := servertest.Start(t, newServer(t, servers.Config{}))
	servertest.Conformance(t, addr, offload.Model)
}

func TestWire(t *testing.T) {
	servertest.Wire(t, servertest.Start(t, newServer(t, servers.Config{})))
}

func TestMalformed(t *testing.T) {
	servertest.Malformed(t, servertest.Start(t, newServer(t, servers.Config{})))
}

func TestShutdown(t *testing.T) {
	servertest.Shutdown(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
}

func TestGraceOver(t *testing.T) {
	servertest.GraceOver(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 100 * time.Millisecond}}))
}

func TestConfig(t *testing.T) {
	servertest.Config(t, newModel)
	for _, tu := range []launch.Tuning{{Workers: -1}, {Workers: 5000}, {Queue: -1}} {
		cfg := servers.Config{Settings: launch.Settings{Tuning: tu}}
		if _, err := offload.New(cfg); err == nil {
			t.Errorf("New(%+v) = _, nil; want an error", cfg)
		}
	}
}

func TestPprof(t *testing.T) { servertest.Pprof(t, newModel) }

// CPU work leaves the loop: a /plain sent while a long /cpu or /regex runs
// is answered first. Other long requests behave as on the event loop.
func TestPoolKeepsLoopFree(t *testing.T) {
	long := itersFor(300 * time.Millisecond)
	for _, tc := range []struct {
		name  string
		long  string
		route workloads.Route
		want  string
	}{
		{"cpu", "/cpu?iters=" + strconv.Itoa(long), workloads.RouteCPU, plainFirst},
		{"cpu defer=tick", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=tick", long, long/50), workloads.RouteCPU, plainFirst},
		{"cpu defer=loop", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=loop", long, long/50), workloads.RouteCPU, plainFirst},
		{"regex", fmt.Sprintf("/regex?n=%d&engine=backtrack", regexNFor(300*time.Millisecond)), workloads.RouteRegex, plainFirst},
		{"io mode=block still blocks the loop", "/io?ms=300&mode=block", workloads.RouteIO, plainAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
			if got := plainVersus(t, addr, tc.long, tc.route); got != tc.want {
				t.Errorf("GET %s: %s; want %s", tc.long, got, tc.want)
			}
		})
	}
}

// With one worker and room for one waiting job, a third concurrent /cpu is
// refused at once with 503 and Retry-After, and the pool's figures say so.
func TestFullQueueAnswers503(t *testing.T) {
	srv := newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second, Tuning: launch.Tuning{Workers: 1, Queue: 1}}})
	addr, _ := serve(t, srv)
	target := "/cpu?iters=" + strconv.Itoa(itersFor(300*time.Millisecond))
	watch := dial(t, addr)
	// waitPool polls /stats until the pool is in the wanted state: the
	// requests are sent one at a time, each once the last is where it
	// should be, so that which one is refused does not depend on timing.
	waitPool := func(busy, depth int) {
		t.Helper()
		for i := 0; ; i++ {
			p := stats(t, watch.roundTrip("/stats")).Pool
			if p == nil {
				t.Fatal("no pool in /stats")
			}
			if p.Busy == busy && p.QueueDepth == depth {
				return
			}
			if i == 1000 {
				t.Fatalf("pool busy %d, queue depth %d; want %d, %d", p.Busy, p.QueueDepth, busy, depth)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	running, queued, refused := dial(t, addr), dial(t, addr), dial(t, addr)
	running.send(get(target))
	waitPool(1, 0)
	queued.send(get(target))
	waitPool(1, 1)
	got := refused.roundTrip(target)
	if got.status != 503 || got.header.Get("Retry-After") != "1" || got.body != "overloaded: worker queue full\n" {
		t.Errorf("third /cpu = %d, Retry-After %q, %q; want 503, 1, %q", got.status, got.header.Get("Retry-After"), got.body, "overloaded: worker queue full\n")
	}
	if got.close {
		t.Error("the 503 closed the connection; it should stay open")
	}
	want := workloads.Hash(mustAtoi(t, strings.TrimPrefix(target, "/cpu?iters="))) + "\n"
	for _, c := range []*client{running, queued} {
		if got := c.read(); got.status != 200 || got.body != want {
			t.Errorf("accepted /cpu = %d %q; want 200 %q", got.status, got.body, want)
		}
	}
	snap := stats(t, watch.roundTrip("/stats"))
	p := snap.Pool
	if snap.Model != offload.Model || p.Workers != 1 || p.QueueCap != 1 || p.QueueDepthPeak != 1 || p.Rejected != 1 || p.QueueWait.Count != 2 || p.Busy != 0 {
		t.Errorf("/stats model %q, pool %+v; want offload, 1 worker, queue cap 1, peak 1, 1 rejected, 2 waits, none busy", snap.Model, *p)
	}
	if snap.LoopDelay == nil || snap.LoopDelay.Count == 0 {
		t.Errorf("/stats loop_delay %+v; want samples", snap.LoopDelay)
	}
	if snap.Responses["5xx"] != 1 || snap.Completed["cpu"] != 2 {
		t.Errorf("/stats responses %v, completed %v; want one 5xx and 2 cpu", snap.Responses, snap.Completed)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGracefulShutdownAnswersOffloadedWork(t *testing.T) {
	addr, stop := serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
	c := dial(t, addr)
	c.send(get("/plain"), get("/cpu?iters="+strconv.Itoa(itersFor(200*time.Millisecond))))
	if got := c.read(); got.status != 200 {
		t.Fatal(got.status)
	}
	// Stop only once the /cpu is in flight: the answer to /plain can reach
	// the client before the loop has parsed the request behind it.
	servertest.WaitInFlight(t, addr, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if got := c.read(); got.status != 200 || !got.close {
		t.Errorf("in-flight /cpu during shutdown = %d close=%t; want 200 with Connection: close", got.status, got.close)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

func TestPool(t *testing.T) {
	p := offload.NewPool(2, 3)
	// Before Start nobody takes jobs: three fit, the fourth does not.
	release := make(chan struct{})
	var done sync.WaitGroup
	for i := range 4 {
		done.Add(1)
		if ok := p.TrySubmit(func() { <-release; done.Done() }); ok != (i < 3) {
			t.Fatalf("TrySubmit #%d = %t; want %t", i+1, ok, i < 3)
		}
		if i == 3 {
			done.Done()
		}
	}
	if s := p.Stats(); s.QueueDepth != 3 || s.QueueDepthPeak != 3 || s.Rejected != 1 || s.Workers != 2 || s.QueueCap != 3 {
		t.Fatalf("Stats() = %+v; want depth 3, peak 3, 1 rejected, 2 workers, cap 3", s)
	}
	p.Start()
	close(release)
	done.Wait()
	if s := p.Stats(); s.QueueDepth != 0 || s.QueueWait.Count != 3 {
		t.Errorf("after the jobs ran: Stats() = %+v; want depth 0, 3 waits", s)
	}
	p.Stop()
	if p.TrySubmit(func() {}) {
		t.Error("TrySubmit after Stop = true; want false")
	}
}
