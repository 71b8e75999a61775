package models

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

func TestProcs(t *testing.T) {
	for _, tc := range []struct {
		model string
		set   launch.Settings
		cpus  int
		want  int
	}{
		{"thread", launch.Settings{}, 1, launch.DefaultMaxThreads + 1},
		{"thread", launch.Settings{Tuning: launch.Tuning{MaxThreads: 8}}, 2, 9},
		{"thread", launch.Settings{Tuning: launch.Tuning{MaxThreads: 5000}}, 1, 1024},
		{"offload", launch.Settings{}, 1, launch.DefaultWorkers + 2},
		{"offload", launch.Settings{Tuning: launch.Tuning{Workers: 16}}, 2, 18},
		{"eventloop", launch.Settings{}, 2, 1},
		{"cluster", launch.Settings{}, 2, 1},
		{"goroutine", launch.Settings{}, 1, 1},
		{"goroutine", launch.Settings{}, 2, 2},
	} {
		if got := Procs(tc.model, tc.set, tc.cpus); got.N != tc.want || got.Reason == "" {
			t.Errorf("Procs(%q, %+v, %d) = %+v; want N %d and a reason", tc.model, tc.set.Tuning, tc.cpus, got, tc.want)
		}
	}
}

// TestEveryGoModelHasAProcsPolicy: no Go model falls through to the default.
func TestEveryGoModelHasAProcsPolicy(t *testing.T) {
	for _, e := range catalog.Builtin().OfKind(catalog.GoModel) {
		if got := Procs(e.Name, launch.Settings{}, 3); got.Reason == Procs("no such model", launch.Settings{}, 3).Reason {
			t.Errorf("Procs(%q) has no policy of its own: %+v", e.Name, got)
		}
	}
}

// TestProcsLetsTheKernelInterleave pins the policy by completion order: on a
// server pinned to one CPU, a /plain is answered while the models standing
// for OS threads run several hashes at once. With one P (GOMAXPROCS=1, the
// policy removed) Go runs the hashes largely one after another, and the first
// is done before all run or before the /plain gets the P.
func TestProcsLetsTheKernelInterleave(t *testing.T) {
	avail, err := cpuset.Available()
	if err != nil {
		t.Fatal(err)
	}
	if err := cpuset.PinAll(cpuset.Set{avail[len(avail)-1]}); err != nil {
		t.Skipf("cannot pin to one CPU: %v", err)
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		if err := cpuset.PinAll(avail); err != nil {
			t.Errorf("restore CPU affinity: %v", err)
		}
		runtime.GOMAXPROCS(procs)
	})
	// Many kernel slices (~3 ms) long. Measured on 2 shared cores at load
	// 10-18 (k=4): with the policy the /plain came first in 10 of 10 runs
	// for 20, 40 and 100 ms hashes; with GOMAXPROCS=1 in 0 of 10 at 20 and
	// 40 ms, 2 of 16 at 100 ms. Under -race the policy's /plain came first
	// in half the runs at 30 ms, 7 of 8 at 60 ms, 16 of 16 at 100 ms.
	heavy := fmt.Sprintf("/cpu?iters=%d", servertest.ItersFor(100*time.Millisecond))
	const k = launch.DefaultWorkers
	for _, tc := range []struct {
		model    string
		progress func(stats.Snapshot) (running, done int)
	}{
		{"offload", func(s stats.Snapshot) (int, int) {
			return s.Pool.Busy, int(s.Completed[workloads.RouteCPU.String()])
		}},
		{"thread", func(s stats.Snapshot) (int, int) {
			return int(s.InFlight) - 1, int(s.Completed[workloads.RouteCPU.String()])
		}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			servers.SetProcs(Procs(tc.model, launch.Settings{}, 1))
			newServer, _ := New(tc.model)
			srv, err := newServer(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0"}})
			if err != nil {
				t.Fatal(err)
			}
			addr, _ := servertest.Serve(t, srv)
			if got := servertest.PlainAmidHeavy(t, addr, heavy, k, tc.progress); got != servertest.PlainFirst {
				t.Errorf("%s at GOMAXPROCS=%d on one CPU: /plain answered %s; want %s",
					tc.model, runtime.GOMAXPROCS(0), got, servertest.PlainFirst)
			}
		})
	}
}
