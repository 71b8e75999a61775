package runner

import (
	"reflect"
	"testing"
	"time"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
)

// TestSamplerSpool: however many readings a cell takes, the sampler holds
// none of them in memory while it samples (they used to pile up, about 11 kB a
// second, in the generator's process); stop's read-back returns them all, in
// the order they were asked for, with the latest pids remembered throughout.
func TestSamplerSpool(t *testing.T) {
	const n = 2000
	sp, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	s := &sampler{spool: sp}
	t0 := time.Unix(1000, 0)
	for i := range n {
		at := t0.Add(time.Duration(i) * SampleEvery)
		s.mu.Lock()
		s.keep(&procSample{at: at, cpu: map[int]float64{7: float64(i)}, rss: int64(i), threads: 3}, nil)
		s.mu.Unlock()
		snap := &stats.Snapshot{Model: "goroutine", PIDs: []int{7, i}, Completed: map[string]uint64{"plain": uint64(i)},
			LoopDelay: &stats.HistSummary{Count: int64(i), HDR: "HISTFAAAA"}}
		if i == n-1 { // answered before the one asked for just earlier
			s.add(statsSample{at: at.Add(-3 * SampleEvery / 2), replied: at, snap: snap})
			continue
		}
		s.add(statsSample{at: at, replied: at.Add(time.Millisecond), snap: snap})
	}
	s.mu.Lock()
	held, pids := len(s.procs)+len(s.stats), s.pids
	s.mu.Unlock()
	if held != 0 {
		t.Errorf("after %d readings the sampler holds %d in memory; want 0 (spooled)", 2*n, held)
	}
	if want := []int{7, n - 2}; !reflect.DeepEqual(pids, want) {
		t.Errorf("pids = %v; want %v, those of the latest reading asked for", pids, want)
	}

	s.readBack()
	if notes := s.spoolNotes(); len(notes) > 0 {
		t.Fatalf("notes = %q", notes)
	}
	if len(s.procs) != n || len(s.stats) != n {
		t.Fatalf("read back %d /proc and %d /stats readings; want %d each", len(s.procs), len(s.stats), n)
	}
	for i, p := range s.procs {
		if !p.at.Equal(t0.Add(time.Duration(i)*SampleEvery)) || p.cpu[7] != float64(i) || p.rss != int64(i) || p.threads != 3 {
			t.Fatalf("procs[%d] = %+v", i, p)
		}
	}
	for i := 1; i < n; i++ {
		if s.stats[i].at.Before(s.stats[i-1].at) {
			t.Fatalf("stats[%d] asked at %s, before stats[%d] (%s)", i, s.stats[i].at, i-1, s.stats[i-1].at)
		}
	}
	if last := s.stats[n-2].snap; last.Completed["plain"] != n-1 || last.LoopDelay.Count != n-1 || last.LoopDelay.HDR != "HISTFAAAA" {
		t.Errorf("the late reading read back as %+v", last)
	}
	// Readings after the read-back stay in memory.
	s.add(statsSample{at: t0.Add(time.Hour), snap: &stats.Snapshot{}})
	if len(s.stats) != n+1 {
		t.Errorf("%d /stats readings after one more; want %d", len(s.stats), n+1)
	}
}

// TestGenMem: the start and end figures are the readings that bracket the
// window, and each second of the timeline gets the last reading by its end.
func TestGenMem(t *testing.T) {
	t0 := time.Unix(1000, 0)
	g := &genMemSampler{}
	for i := range 6 { // readings at 0.5, 1.5, ... 5.5 s
		g.samples = append(g.samples, genMemSample{at: t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond), rss: int64(100 + i), heap: int64(10 + i)})
	}
	got := g.window(t0.Add(time.Second), t0.Add(4*time.Second))
	want := result.Generator{HeapStartBytes: 10, HeapEndBytes: 13, RSSStartBytes: 100, RSSEndBytes: 103}
	if got != want {
		t.Errorf("window(1s, 4s) = %+v; want %+v", got, want)
	}
	tl := []result.Second{{T: 0}, {T: 1}, {T: 2}}
	g.joinTimeline(tl, t0.Add(time.Second))
	for i, s := range tl {
		if s.GeneratorRSSBytes != int64(101+i) || s.GeneratorHeapBytes != int64(11+i) {
			t.Errorf("second %d: rss %d heap %d; want %d, %d", s.T, s.GeneratorRSSBytes, s.GeneratorHeapBytes, 101+i, 11+i)
		}
	}
	if got := (&genMemSampler{}).window(t0, t0); got != (result.Generator{}) {
		t.Errorf("window without readings = %+v; want zero", got)
	}
}
