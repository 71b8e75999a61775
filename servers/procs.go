package servers

import (
	"runtime"
	"sync/atomic"
)

// Procs is how many Ps (GOMAXPROCS) a model's process runs Go code on, and
// why. The number decides who time-slices the model's OS threads on the CPUs
// it is pinned to: with fewer Ps than runnable threads, Go's scheduler does,
// preempting a running goroutine only every ~10 ms; with a P for each, the
// kernel does, as it does Apache's threads and libuv's pool. The CPU set is
// not changed by it.
type Procs struct {
	N      int
	Reason string
}

// MaxProcs is the Go runtime's ceiling on GOMAXPROCS.
const MaxProcs = 1024

// procsReason is process-wide because GOMAXPROCS is: whoever sets one sets
// both (SetProcs), and every /stats snapshot of the process reports them.
var procsReason atomic.Pointer[string]

// SetProcs sets GOMAXPROCS to p.N (clamped to 1..MaxProcs) and records
// p.Reason for /stats. It is meant to be called once, before serving.
func SetProcs(p Procs) {
	runtime.GOMAXPROCS(min(max(p.N, 1), MaxProcs))
	procsReason.Store(&p.Reason)
}

// ProcsReason returns the reason last given to SetProcs ("" if none).
func ProcsReason() string {
	if r := procsReason.Load(); r != nil {
		return *r
	}
	return ""
}
