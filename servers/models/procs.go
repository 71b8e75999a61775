package models

import (
	"fmt"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/offload"
	"github.com/concbench/concbench/servers/thread"
)

// ThreadProcsPerCPU bounds the thread model's Ps: up to this many request
// threads per CPU run at once under the kernel's time-slicing, more share
// Ps under Go's. A P per thread slot (257 by default) cost more than it
// bought: the GC runs 25 % of GOMAXPROCS as dedicated mark workers, sized for
// that many CPUs, and on one CPU with 257 Ps the cheap p99 beside a looping
// ~100 ms hash was 100 ms-1.9 s, against 19-29 ms with 8 and 65-86 ms with 1
// (2 shared cores, load ~12-16, 2026-12-03).
const ThreadProcsPerCPU = 8

// Cluster is the cluster model's catalog name (its package has no Model
// constant: its children report themselves as eventloop).
const Cluster = "cluster"

// Procs is the GOMAXPROCS policy: how many Ps the process of the Go model
// name runs with, given its settings (zero fields take their defaults) and
// the number of CPUs it is pinned to. It is the one place that decides;
// `concbench serve` applies it after pinning, and a cluster child applies
// eventloop's.
//
// A model standing for OS threads gets a P per thread it may run at once, so
// that on few CPUs the kernel time-slices those threads, as it does Apache's
// workers and libuv's pool; with one P per CPU, Go's scheduler would, and a
// cheap request would wait up to its ~10 ms preemption slice behind each
// running hash. A model standing for one JavaScript thread gets one P. The
// goroutine model keeps Go's default (one P per CPU): it is Go's own row.
func Procs(name string, s launch.Settings, cpus int) servers.Procs {
	s, _ = s.WithDefaults() // out-of-range settings are refused by the constructor
	cpus = max(cpus, 1)
	switch name {
	case thread.Model:
		n := min(s.MaxThreads+1, ThreadProcsPerCPU*cpus, servers.MaxProcs)
		return servers.Procs{N: n, Reason: fmt.Sprintf(
			"min(max_threads %d + 1, %d per CPU × %d): a P per running request thread, so the kernel time-slices them as it does Apache's workers",
			s.MaxThreads, ThreadProcsPerCPU, cpus)}
	case offload.Model:
		return servers.Procs{N: min(s.Workers+2, servers.MaxProcs), Reason: fmt.Sprintf(
			"workers %d + 2: a P per worker thread, the loop's and one for the runtime, so the kernel time-slices the pool as it does libuv's", s.Workers)}
	case eventloop.Model:
		return servers.Procs{N: 1, Reason: "1: one thread runs the handlers, as in Node"}
	case Cluster:
		return servers.Procs{N: 1, Reason: "1 per process: the supervisor and each child run one loop, as Node's cluster primary and workers do"}
	case goroutine.Model:
		return servers.Procs{N: cpus, Reason: "Go's default, one per CPU: Go's own scheduler is the model"}
	}
	return servers.Procs{N: cpus, Reason: "one per CPU"}
}
