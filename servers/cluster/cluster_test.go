package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/cluster"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/stats"
)

// TestMain lets this test binary be a cluster child too: the supervisor starts
// children by running its own executable, which here is the test binary.
func TestMain(m *testing.M) {
	if cluster.IsChild() {
		ctx, stop := signalContext()
		err := cluster.ChildMain(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cluster child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	servertest.ServeChild(newCluster) // the hostile suite's supervisor process
	os.Exit(m.Run())
}

func newCluster(cfg servers.Config) (servers.Server, error) {
	if cfg.Procs == 0 {
		cfg.Procs = 2
	}
	return cluster.New(cfg)
}

func start(t *testing.T, procs int) string {
	t.Helper()
	srv, err := cluster.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: 5 * time.Second, Tuning: launch.Tuning{Procs: procs}}})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, srv)
}

func TestConformance(t *testing.T) {
	addr := start(t, 2)
	servertest.Conformance(t, addr, "cluster")
	servertest.Wire(t, addr)
	servertest.Malformed(t, addr)
}

func TestLifecycle(t *testing.T) {
	t.Run("Config", func(t *testing.T) { servertest.Config(t, newCluster) })
	t.Run("Pprof", func(t *testing.T) { servertest.Pprof(t, newCluster) })
	t.Run("Shutdown", func(t *testing.T) {
		srv, err := newCluster(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		servertest.Shutdown(t, srv)
	})
}

// TestStatsAggregate checks that /stats, whichever child answers it, sums every
// child and lists each one with its own request counts.
func TestStatsAggregate(t *testing.T) {
	addr := start(t, 3)
	const n = 30
	for i := 0; i < n; i++ {
		if code, _, _ := servertest.Get(t, addr, "/plain"); code != 200 {
			t.Fatalf("GET /plain = %d; want 200", code)
		}
	}
	snap := servertest.Stats(t, addr)
	if snap.Model != "cluster" || len(snap.Procs) != 3 || len(snap.PIDs) != 4 {
		t.Fatalf("stats: model %q, %d procs, pids %v; want cluster, 3 procs, 4 pids (supervisor first)", snap.Model, len(snap.Procs), snap.PIDs)
	}
	if snap.PIDs[0] != os.Getpid() {
		t.Errorf("stats: pids[0] = %d; want the supervisor, %d", snap.PIDs[0], os.Getpid())
	}
	var sum uint64
	for _, p := range snap.Procs {
		if p.Model != "eventloop" || len(p.PIDs) != 1 {
			t.Errorf("child snapshot: model %q pids %v; want eventloop with one pid", p.Model, p.PIDs)
		}
		sum += p.Completed["plain"]
	}
	if snap.Completed["plain"] != n || sum != n {
		t.Errorf("completed plain: cluster %d, sum of children %d; want %d", snap.Completed["plain"], sum, n)
	}
	if snap.LoopDelay == nil || snap.LoopDelay.Count == 0 {
		t.Errorf("loop delay: %+v; want merged probes of the children", snap.LoopDelay)
	}
	// Runtime figures: the children's, merged (read at slightly different moments).
	var wakeups int64
	for _, p := range snap.Procs {
		if p.Runtime == nil {
			t.Fatalf("child %v: no runtime figures", p.PIDs)
		}
		wakeups += p.Runtime.SchedLatency.Count
	}
	if rt := snap.Runtime; rt == nil || rt.SchedLatency.Count != wakeups {
		t.Errorf("cluster runtime %+v; want the children's %d scheduling latencies merged", rt, wakeups)
	}
}

// TestChildReplaced kills a child: the supervisor starts another, and requests
// keep succeeding throughout.
func TestChildReplaced(t *testing.T) {
	addr := start(t, 2)
	before := servertest.Stats(t, addr)
	victim := before.Procs[0].PIDs[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(servertest.Timeout)
	for {
		// Every request must succeed: the other child holds the port while the
		// killed one is replaced (a connection the kernel had queued on the dead
		// child is the one exception, so retry a refused/reset dial once).
		if code := getRetry(t, addr, "/plain"); code != 200 {
			t.Fatalf("GET /plain during restart = %d; want 200", code)
		}
		var snap stats.Snapshot
		if code := getJSON(t, addr, "/stats", &snap); code != 200 {
			t.Fatalf("GET /stats during restart = %d; want 200", code)
		}
		if snap.Restarts == 1 && len(snap.Procs) == 2 && snap.Procs[0].PIDs != nil && snap.Procs[0].PIDs[0] != victim {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d not replaced: stats %+v", victim, snap)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getRetry(t *testing.T, addr, target string) int {
	return getJSON(t, addr, target, nil)
}

// getJSON GETs target on a fresh connection, retrying once on a connection
// error, and decodes a 200 answer into v when v is not nil.
func getJSON(t *testing.T, addr, target string, v any) int {
	t.Helper()
	client := &http.Client{Timeout: servertest.Timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	for try := 0; ; try++ {
		resp, err := client.Get("http://" + addr + target)
		if err == nil {
			defer resp.Body.Close()
			if v != nil && resp.StatusCode == 200 {
				if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
					t.Fatalf("GET %s: %v", target, err)
				}
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode
		}
		if try == 1 {
			t.Fatalf("GET %s: %v", target, err)
		}
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}
