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

func TestSuite(t *testing.T) { servertest.Suite(t, offload.Model, newModel) }

// TestConfigBounds: settings out of the pool's range are refused.
func TestConfigBounds(t *testing.T) {
	for _, tu := range []launch.Tuning{{Workers: -1}, {Workers: 5000}, {Queue: -1}} {
		cfg := servers.Config{Settings: launch.Settings{Tuning: tu}}
		if _, err := offload.New(cfg); err == nil {
			t.Errorf("New(%+v) = _, nil; want an error", cfg)
		}
	}
}

// CPU work leaves the loop: a /plain sent while a long /cpu or /regex runs
// is answered first. Other long requests behave as on the event loop.
func TestPoolKeepsLoopFree(t *testing.T) {
	long := servertest.ItersFor(300 * time.Millisecond)
	for _, tc := range []struct {
		name  string
		long  string
		route workloads.Route
		want  string
	}{
		{"cpu", "/cpu?iters=" + strconv.Itoa(long), workloads.RouteCPU, servertest.PlainFirst},
		{"cpu defer=tick", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=tick", long, long/50), workloads.RouteCPU, servertest.PlainFirst},
		{"cpu defer=loop", fmt.Sprintf("/cpu?iters=%d&chunk=%d&defer=loop", long, long/50), workloads.RouteCPU, servertest.PlainFirst},
		{"regex", fmt.Sprintf("/regex?n=%d&engine=backtrack", servertest.RegexNFor(300*time.Millisecond)), workloads.RouteRegex, servertest.PlainFirst},
		{"io mode=block still blocks the loop", "/io?ms=300&mode=block", workloads.RouteIO, servertest.PlainAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := servertest.Serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
			if got := servertest.PlainVersus(t, addr, tc.long, tc.route); got != tc.want {
				t.Errorf("GET %s: %s; want %s", tc.long, got, tc.want)
			}
		})
	}
}

// With one worker and room for one waiting job, a third concurrent /cpu is
// refused at once with 503 and Retry-After, and the pool's figures say so.
func TestFullQueueAnswers503(t *testing.T) {
	srv := newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second, Tuning: launch.Tuning{Workers: 1, Queue: 1}}})
	addr, _ := servertest.Serve(t, srv)
	target := "/cpu?iters=" + strconv.Itoa(servertest.ItersFor(300*time.Millisecond))
	watch := servertest.NewClient(t, addr)
	// waitPool polls /stats until the pool is in the wanted state: the
	// requests are sent one at a time, each once the last is where it
	// should be, so that which one is refused does not depend on timing.
	waitPool := func(busy, depth int) {
		t.Helper()
		for i := 0; ; i++ {
			p := watch.RoundTrip("/stats").Snapshot(t).Pool
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
	running, queued, refused := servertest.NewClient(t, addr), servertest.NewClient(t, addr), servertest.NewClient(t, addr)
	running.Send(servertest.Request("GET", target))
	waitPool(1, 0)
	queued.Send(servertest.Request("GET", target))
	waitPool(1, 1)
	got := refused.RoundTrip(target)
	if got.Status != 503 || got.Header.Get("Retry-After") != "1" || got.Body != "overloaded: worker queue full\n" {
		t.Errorf("third /cpu = %d, Retry-After %q, %q; want 503, 1, %q", got.Status, got.Header.Get("Retry-After"), got.Body, "overloaded: worker queue full\n")
	}
	if got.Close {
		t.Error("the 503 closed the connection; it should stay open")
	}
	want := workloads.Hash(mustAtoi(t, strings.TrimPrefix(target, "/cpu?iters="))) + "\n"
	for _, c := range []*servertest.Client{running, queued} {
		if got := c.Read(); got.Status != 200 || got.Body != want {
			t.Errorf("accepted /cpu = %d %q; want 200 %q", got.Status, got.Body, want)
		}
	}
	snap := watch.RoundTrip("/stats").Snapshot(t)
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
	addr, stop := servertest.Serve(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
	c := servertest.NewClient(t, addr)
	c.Send(servertest.Request("GET", "/plain"), servertest.Request("GET", "/cpu?iters="+strconv.Itoa(servertest.ItersFor(200*time.Millisecond))))
	if got := c.Read(); got.Status != 200 {
		t.Fatal(got.Status)
	}
	// Stop only once the /cpu is in flight: the answer to /plain can reach
	// the client before the loop has parsed the request behind it.
	servertest.WaitInFlight(t, addr, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if got := c.Read(); got.Status != 200 || !got.Close {
		t.Errorf("in-flight /cpu during shutdown = %d close=%t; want 200 with Connection: close", got.Status, got.Close)
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
