package servers

import (
	"runtime"
	"sync"
	"testing"
)

func TestReadRuntime(t *testing.T) {
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {})
	}
	wg.Wait()
	before := ReadRuntime()
	runtime.GC()
	after := ReadRuntime()
	if after.SchedLatency.Count == 0 || after.SchedLatency.MaxUs <= 0 {
		t.Errorf("sched latency %+v; want the goroutines' wake-ups", after.SchedLatency)
	}
	d := after.Sub(before)
	if d.GCCycles < 1 || d.GCPauses.Count < 2 || d.GCPauses.MaxUs <= 0 {
		t.Errorf("after runtime.GC(): %d cycles, pauses %+v; want a cycle and its stop-the-world pauses", d.GCCycles, d.GCPauses)
	}
	if s := NewStats("x").Snapshot(); s.Runtime == nil || s.Runtime.GCCycles < after.GCCycles {
		t.Errorf("Snapshot().Runtime = %+v; want this process's figures", s.Runtime)
	}
}
