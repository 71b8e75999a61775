package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
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
	return startBalanced(t, procs, "")
}

// startBalanced starts a cluster of procs children with the given balance
// ("" for the default).
func startBalanced(t *testing.T, procs int, balance string) string {
	t.Helper()
	srv, err := cluster.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: 5 * time.Second,
		Tuning: launch.Tuning{Procs: procs, Balance: balance}}})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, srv)
}

func TestConformance(t *testing.T) {
	for _, balance := range []string{launch.BalanceRR, launch.BalanceReusePort} {
		t.Run(balance, func(t *testing.T) {
			addr := startBalanced(t, 2, balance)
			servertest.Conformance(t, addr, "cluster")
			servertest.Wire(t, addr)
			servertest.Malformed(t, addr)
		})
	}
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

// blockChild sends /plain and then block, pipelined, on a new connection, and
// returns once /plain is answered: the child that took the connection has
// then begun block (the loop answers /plain and goes on to the next request
// in the same callback). blocked is closed when block's answer arrives, with
// its error (nil for a 200) in *blockErr.
func blockChild(t *testing.T, addr, block string) (conn net.Conn, blocked <-chan struct{}, blockErr *error) {
	t.Helper()
	a, ar := servertest.Dial(t, addr)
	if _, err := io.WriteString(a, servertest.Request("GET", "/plain")+servertest.Request("GET", block)); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := servertest.ReadResponse(ar); err != nil || resp.StatusCode != 200 {
		t.Fatalf("pipelined /plain: %v", err)
	}
	done := make(chan struct{})
	var berr error
	go func() {
		defer close(done)
		resp, _, err := servertest.ReadResponse(ar)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		berr = err
	}()
	return a, done, &berr
}

// TestBlockedChildHoldsOne is the cluster module's round-robin rule: with one
// of two children blocked, n new connections each doing /plain are all
// answered by the free child except the one the blocked child was handed
// before it could acknowledge it, which waits for the block to end. (The
// blocked child is free when the connections arrive, and the free queue puts
// it first by the second handoff at the latest, so it gets exactly one.)
// With reuseport the kernel picks a child by a hash of the client's port,
// blind to the block: about n/2 wait, which is only logged.
//
// Which child answered is read from /stats once all is done: the blocked
// child answered the pipelined /plain and the connections it held, the other
// the rest. (Telling "answered after the block" on the client would race
// with the block's own answer by microseconds.)
func TestBlockedChildHoldsOne(t *testing.T) {
	const n = 10
	for _, tc := range []struct {
		balance string
		want    int // connections the blocked child answers; -1: not checked
	}{
		{launch.BalanceRR, 1},
		{launch.BalanceReusePort, -1},
	} {
		t.Run(tc.balance, func(t *testing.T) {
			addr := startBalanced(t, 2, tc.balance)
			// The block outlasts the n connections' dialling by far: they
			// all arrive while it lasts.
			_, blocked, blockErr := blockChild(t, addr, "/io?ms=4000&mode=block")
			answered := make(chan error, n)
			for range n {
				go func() {
					resp, _, err := servertest.Fetch(addr, servertest.Request("GET", "/plain"))
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
					answered <- err
				}()
			}
			for range n {
				if err := <-answered; err != nil {
					t.Errorf("GET /plain on a new connection: %v", err)
				}
			}
			<-blocked
			if *blockErr != nil {
				t.Fatalf("the blocking request: %v", *blockErr)
			}
			snap := servertest.Stats(t, addr)
			var counts []uint64
			for _, p := range snap.Procs {
				counts = append(counts, p.Completed["plain"])
			}
			if len(counts) != 2 || counts[0]+counts[1] != n+1 {
				t.Fatalf("/plain answered per child %v; want 2 children answering %d in all", counts, n+1)
			}
			// The blocked child is the one that answered the pipelined /plain.
			// Under rr it holds one more; the other answered n-1: so one
			// child has 2 and the other n-1. Under reuseport it may be either.
			if tc.want >= 0 {
				slices.Sort(counts)
				if want := []uint64{uint64(tc.want) + 1, n - uint64(tc.want)}; !slices.Equal(counts, want) {
					t.Errorf("balance %s: /plain answered per child %v; want %v (the blocked child: the pipelined one and %d held)", tc.balance, counts, want, tc.want)
				}
			}
			t.Logf("balance %s: /plain answered per child %v (the blocked child answered the pipelined one)", tc.balance, counts)
		})
	}
}

// TestChildKilledHoldingAConnection kills (SIGKILL) a blocked child that holds
// a connection it has not acknowledged: the supervisor carries on, the
// child is replaced, every new connection is answered, and the supervisor
// (this process) ends with the descriptors it had: it closes each connection
// once handed over.
func TestChildKilledHoldingAConnection(t *testing.T) {
	addr := startBalanced(t, 2, launch.BalanceRR)
	fdsBefore := openFDs(t)
	a, _, _ := blockChild(t, addr, "/io?ms=60000&mode=block")
	var victim int
	for _, p := range servertest.Stats(t, addr).Procs {
		if p.Completed["plain"] == 1 { // the pipelined /plain: only the blocked child answered one
			victim = p.PIDs[0]
		}
	}
	if victim == 0 {
		t.Fatal("no child answered the pipelined /plain")
	}
	// Of n new connections the free child answers n-1 (see
	// TestBlockedChildHoldsOne); the last is held by the victim.
	const n = 4
	answered := make(chan error, n)
	for range n {
		go func() {
			_, _, err := servertest.Fetch(addr, servertest.Request("GET", "/plain"))
			answered <- err
		}()
	}
	for range n - 1 {
		if err := <-answered; err != nil {
			t.Fatalf("GET /plain while a child is blocked: %v", err)
		}
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The held connection dies with the child (its client sees it closed).
	if err := <-answered; err == nil {
		t.Log("the connection held by the killed child was answered (by its replacement?)")
	}
	_ = a.Close()
	deadline := time.Now().Add(servertest.Timeout)
	for {
		var snap stats.Snapshot
		if code := getJSON(t, addr, "/stats", &snap); code != 200 {
			t.Fatalf("GET /stats after the kill = %d; want 200", code)
		}
		if snap.Restarts == 1 && len(snap.Procs) == 2 && len(snap.Procs[0].PIDs) > 0 && len(snap.Procs[1].PIDs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d not replaced: stats %+v", victim, snap)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 20 {
		if code := getRetry(t, addr, "/plain"); code != 200 {
			t.Fatalf("GET /plain after the restart = %d; want 200", code)
		}
	}
	// Every connection of this test is closed on both sides now; what the
	// supervisor holds is its listener and one link per child, as before.
	for {
		got := openFDs(t)
		if got <= fdsBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor holds %d descriptors, %d before; want no more", got, fdsBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
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
