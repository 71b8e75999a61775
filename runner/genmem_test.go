package runner

import (
	"context"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/profiling"
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
		s.keep(&procSample{at: at, cpu: map[int]float64{7: float64(i)}, rss: int64(i), threads: 3, tasks: map[int]int64{7: int64(i), 8: 2},
			cpuTimes: map[int]procstat.CPUTimes{1: {Steal: int64(i), Total: int64(3 * i)}}}, nil)
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
		if !p.at.Equal(t0.Add(time.Duration(i)*SampleEvery)) || p.cpu[7] != float64(i) || p.rss != int64(i) || p.threads != 3 || p.cpuTimes[1] != (procstat.CPUTimes{Steal: int64(i), Total: int64(3 * i)}) ||
			!maps.Equal(p.tasks, map[int]int64{7: int64(i), 8: 2}) {
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

// TestGeneratorFigures: a real cell records the generator's memory at the
// start and end of its window and in every second of its timeline, and
// --profile-generator saves the generator's own profiles beside the cell's.
func TestGeneratorFigures(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := testPlan(t, []string{"goroutine"}, 200)
	var log strings.Builder
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir(), Log: &log,
		GeneratorProfiles: profiling.GeneratorKinds})
	if err != nil {
		t.Fatalf("Run = %v\n%s", err, log.String())
	}
	r, err := result.Load(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Cells) != 1 {
		t.Fatalf("%d cells; want 1", len(r.Cells))
	}
	c := r.Cells[0]
	g := c.Generator
	if g.HeapStartBytes <= 0 || g.HeapEndBytes <= 0 || g.RSSStartBytes <= 0 || g.RSSEndBytes <= 0 {
		t.Errorf("generator = %+v; want every figure > 0", g)
	}
	if len(c.Timeline) == 0 {
		t.Fatal("no timeline")
	}
	for _, s := range c.Timeline {
		if s.GeneratorRSSBytes <= 0 || s.GeneratorHeapBytes <= 0 {
			t.Errorf("second %d: generator rss %d heap %d; want > 0", s.T, s.GeneratorRSSBytes, s.GeneratorHeapBytes)
		}
	}
	for _, k := range profiling.GeneratorKinds {
		f, ok := c.Files[profiling.GeneratorFileKind(k)]
		if !ok {
			t.Errorf("no generator %s profile in %v; notes %q", k, c.Files, profileNotes(c))
			continue
		}
		want := c.ID + ".generator." + string(k) + ".pprof"
		if k == profiling.Trace {
			want = c.ID + ".generator.trace"
		}
		if f != want {
			t.Errorf("generator %s profile in %s; want %s", k, f, want)
		}
		if k == profiling.Trace {
			if err := profiling.CheckTrace(filepath.Join(o.Dir, f)); err != nil {
				t.Errorf("generator trace: %v", err)
			}
			continue
		}
		prof, err := profiling.Read(filepath.Join(o.Dir, f))
		if err != nil {
			t.Errorf("generator %s profile: %v", k, err)
			continue
		}
		// The cell's goroutine is in runCell (attacking, or waiting for the
		// captures) when the goroutines are listed: the profile is of the
		// generator's process, not of a server.
		if k == profiling.Goroutine && !profileHas(prof, "github.com/concbench/concbench/runner.(*cellRunner).runCell") {
			t.Errorf("generator goroutine profile does not show runner.(*cellRunner).runCell")
		}
	}
}

// profileHas reports whether any sample of p has fn on its stack.
func profileHas(p *profile.Profile, fn string) bool {
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function != nil && line.Function.Name == fn {
					return true
				}
			}
		}
	}
	return false
}
