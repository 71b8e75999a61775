package servers

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/procstat"
)

// TestWatchThreadsCountsLockedThreads: goroutines locked to their threads and
// blocked each hold an OS thread, so the runtime's thread count the watcher
// reads covers them. It is the same kind of figure as /proc's (other tests'
// threads may come and go between the two reads, so only the order of
// magnitude is compared).
func TestWatchThreadsCountsLockedThreads(t *testing.T) {
	const locked = 5
	var started, release sync.WaitGroup
	release.Add(1)
	for range locked {
		started.Add(1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			started.Done()
			release.Wait()
		}()
	}
	started.Wait()
	defer release.Done()

	s := NewStats("test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.WatchThreads(ctx, time.Hour); close(done) }() // samples once at once
	cancel()
	<-done
	peak := s.peakThreads.Load()
	_, proc, err := procstat.ReadSelf()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if peak < locked+1 || peak > 2*int64(proc) {
		t.Errorf("WatchThreads peak %d with %d locked, blocked goroutines; want ≥ %d and near /proc's %d", peak, locked, locked+1, proc)
	}
}
