package runner

import (
	"context"
	"time"

	"github.com/concbench/concbench/procstat"
)

// The idle reading of a cell (result.Resources.IdleRSSBytes) is taken once
// the server has gone quiet after its start, not as soon as it answers its
// health check: a server may answer while it is still starting. Node's pool
// answers while its four worker_threads boot (node-pool idles at ~82 MiB to
// node-loop's ~46 MiB: ~9 MiB a worker), and a reading then counted their
// start as growth under load: node-pool's RSS "grew" by +28 MiB in the block
// scenario, where a quiet server grows by ~9 MiB (2 cores, server on one
// CPU). node-pool goes quiet 0.4–0.5 s after its health check, the other
// servers at the first chance (0.2 s).
const (
	// idleStep is the time between two readings of the settling server.
	// CPU time comes in ticks of 10 ms (procstat.ClockTicks), so a step of
	// 100 ms tells "at most one tick" (≤ 10 % of a CPU) from busy.
	idleStep = 100 * time.Millisecond
	// idleQuietSteps is how many steps in a row must be quiet.
	idleQuietSteps = 2
	// idleMaxWait bounds the wait: a server busy on its own for longer
	// (a timer, a cache warming) is read then, with a note.
	idleMaxWait = 5 * time.Second
	// idleCPUSec and idleRSSBytes: a quiet step used at most one tick of
	// CPU and moved RSS by at most 1 MiB; its thread count did not move.
	idleCPUSec   = 1.0 / procstat.ClockTicks
	idleRSSBytes = 1 << 20
)

// treeReading is what settling compares between two steps: the whole process
// tree (a cluster's children, Apache's processes) summed.
type treeReading struct {
	cpuSec  float64
	rss     int64
	threads int
}

// quiet reports whether the step from a to b was quiet.
func quiet(a, b treeReading) bool {
	d := b.rss - a.rss
	return b.cpuSec-a.cpuSec <= idleCPUSec+1e-9 && d <= idleRSSBytes && d >= -idleRSSBytes && a.threads == b.threads
}

// readTree sums the readings of pid's process tree; ok is false when no
// process could be read.
func readTree(pid int) (treeReading, bool) {
	var t treeReading
	n := 0
	for _, p := range procstat.Tree(pid) {
		r, err := procstat.Read(p)
		if err != nil {
			continue // exited between listing and reading
		}
		n++
		t.cpuSec += r.UserSec + r.SysSec
		t.rss += r.RSSBytes
		t.threads += r.Threads
	}
	return t, n > 0
}

// idleOutcome is how the wait for a quiet server ended.
type idleOutcome int

const (
	idleQuiet      idleOutcome = iota // quiet: the next reading is the idle one
	idleBusy                          // still busy after the longest wait
	idleUnreadable                    // its processes could not be read (gone?)
	idleCancelled                     // the run was interrupted
)

// settleIdle waits until read gives idleQuietSteps quiet steps in a row, or
// maxWait has passed, or ctx is done, and says how long it waited and why it
// stopped.
func settleIdle(ctx context.Context, read func() (treeReading, bool), step, maxWait time.Duration) (time.Duration, idleOutcome) {
	start := time.Now()
	prev, ok := read()
	if !ok {
		return 0, idleUnreadable
	}
	t := time.NewTicker(step)
	defer t.Stop()
	run := 0
	for {
		select {
		case <-ctx.Done():
			return time.Since(start), idleCancelled
		case <-t.C:
		}
		// select picks at random when both are ready: a cancel that came
		// with a tick must not cost another reading.
		if ctx.Err() != nil {
			return time.Since(start), idleCancelled
		}
		cur, ok := read()
		if !ok {
			return time.Since(start), idleUnreadable
		}
		if quiet(prev, cur) {
			run++
		} else {
			run = 0
		}
		prev = cur
		if run >= idleQuietSteps {
			return time.Since(start), idleQuiet
		}
		if time.Since(start) >= maxWait {
			return time.Since(start), idleBusy
		}
	}
}
