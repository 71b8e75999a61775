package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
)

// hashFunc is the workload's hashing loop, which a CPU profile of /cpu
// requests must show.
const hashFunc = "github.com/concbench/concbench/workloads.(*Hasher).Step"

// profilePlan is one short cell of model, most of whose CPU time goes to
// hashing: ~8 ms of SHA-256 per /cpu request, 30 of them a second.
func profilePlan(t *testing.T, model string, procs int) plan.Plan {
	t.Helper()
	src := fmt.Sprintf(`name: prof
models: [%s]
duration: 1s
warmup: 200ms
timeout: 2s
server: {procs: %d}
scenarios:
  - name: hash
    max_connections: 16
    mix:
      - {name: plain, target: /plain, weight: 1}
      - {name: cpu, target: "/cpu?iters=100000", weight: 1, heavy: true}
    rates: [60]
`, model, procs)
	p, err := plan.Parse([]byte(src), "prof")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// profileNotes returns the cell's profiling notes.
func profileNotes(c result.Cell) []string {
	var out []string
	for _, r := range c.Validity.Reasons {
		if strings.HasPrefix(r, "profiling:") {
			out = append(out, r)
		}
	}
	return out
}

// checkProfileFile asserts that the cell lists kind and that the file is on
// disk and parses; it returns the profile (nil for a trace).
func checkProfileFile(t *testing.T, dir string, c result.Cell, key string) *profile.Profile {
	t.Helper()
	rel, ok := c.Files[key]
	if !ok {
		t.Errorf("%s: no %s in files %v (notes %q)", c.ID, key, c.Files, profileNotes(c))
		return nil
	}
	path := filepath.Join(dir, rel)
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		t.Errorf("%s: %s file %s: %v", c.ID, key, rel, err)
		return nil
	}
	if strings.HasSuffix(rel, ".trace") {
		if err := profiling.CheckTrace(path); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
		return nil
	}
	p, err := profiling.Read(path)
	if err != nil {
		t.Errorf("%s: %s does not parse: %v", c.ID, rel, err)
	}
	return p
}

// hasFunc reports whether any sample of p has the function name in its stack.
func hasFunc(p *profile.Profile, name string) bool {
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && l.Function.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// TestProfileRun: a real cell with every profile. The CPU profile parses with
// github.com/google/pprof and shows the workload's hashing; every file listed
// is on disk; the server's runtime figures come with it.
func TestProfileRun(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := profilePlan(t, "eventloop", 0)
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir(), Profiles: profiling.Kinds})
	if err != nil {
		t.Fatal(err)
	}
	r, err := result.Load(o.Dir) // what results.json says
	if err != nil {
		t.Fatal(err)
	}
	c := r.Cells[0]
	checkCell(t, o.Dir, c, false)
	if n := profileNotes(c); len(n) > 0 {
		t.Errorf("profiling notes %q; want none", n)
	}
	args := strings.Join(c.ServerArgs, " ")
	if !strings.Contains(args, "--pprof-addr 127.0.0.1:0") || !strings.Contains(args, "--profile-rates") {
		t.Errorf("server args %q; want --pprof-addr 127.0.0.1:0 --profile-rates", args)
	}
	for _, k := range profiling.Kinds {
		checkProfileFile(t, o.Dir, c, profiling.FileKind(k, -1))
	}
	if got, want := c.Files["profile:cpu"], c.ID+".cpu.pprof"; got != want {
		t.Errorf("cpu profile file %q; want %q", got, want)
	}
	if got, want := c.Files["profile:trace"], c.ID+".trace"; got != want {
		t.Errorf("trace file %q; want %q", got, want)
	}
	if cpu := checkProfileFile(t, o.Dir, c, "profile:cpu"); cpu != nil {
		if len(cpu.Sample) == 0 || !hasFunc(cpu, hashFunc) {
			flat, _, total, _ := profiling.TopFunctions(cpu, 10)
			t.Errorf("CPU profile: %d samples, none in %s; top %+v of %d", len(cpu.Sample), hashFunc, flat, total)
		}
		if d := time.Duration(cpu.DurationNanos); d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("CPU profile lasts %s; want the 1s window", d)
		}
	}
	if rt := c.Server.Runtime; rt == nil || rt.SchedLatency.Count == 0 {
		t.Errorf("server runtime figures %+v; want scheduling latencies of the window", rt)
	}
	if c.Server.LoopDelay == nil || c.Server.LoopDelay.Count == 0 {
		t.Errorf("loop delay %+v; want the window's probes next to the profile", c.Server.LoopDelay)
	}
	ents, _ := os.ReadDir(o.Dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("partial download left behind: %s", e.Name())
		}
	}
}

// TestProfileCluster: each cluster child is profiled through the supervisor.
func TestProfileCluster(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := profilePlan(t, "cluster", 2)
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir(), Profiles: []profiling.Kind{profiling.CPU, profiling.Goroutine}})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Run.Cells[0]
	checkCell(t, o.Dir, c, false)
	if n := profileNotes(c); len(n) > 0 {
		t.Errorf("profiling notes %q; want none", n)
	}
	if len(c.Server.Procs) != 2 {
		t.Fatalf("%d children in /stats; want 2", len(c.Server.Procs))
	}
	var hashing int
	for i := range 2 {
		if got, want := c.Files[profiling.FileKind(profiling.CPU, i)], fmt.Sprintf("%s.child%d.cpu.pprof", c.ID, i); got != want {
			t.Errorf("child %d: cpu profile file %q; want %q", i, got, want)
		}
		checkProfileFile(t, o.Dir, c, profiling.FileKind(profiling.Goroutine, i))
		if cpu := checkProfileFile(t, o.Dir, c, profiling.FileKind(profiling.CPU, i)); cpu != nil && hasFunc(cpu, hashFunc) {
			hashing++
		}
	}
	if hashing == 0 {
		t.Errorf("no child's CPU profile shows %s", hashFunc)
	}
	if _, ok := c.Files["profile:cpu"]; ok {
		t.Errorf("files %v: the supervisor was profiled; want the children", c.Files)
	}
	if got := profiling.Paths(c.Files, profiling.CPU); len(got) != 2 {
		t.Errorf("ProfilePaths = %q; want the 2 children's", got)
	} else if _, err := profiling.ReadMerged(filepath.Join(o.Dir, got[0]), filepath.Join(o.Dir, got[1])); err != nil {
		t.Errorf("merging the children's profiles: %v", err)
	}
	if rt := c.Server.Runtime; rt == nil || rt.SchedLatency.Count == 0 {
		t.Errorf("cluster runtime figures %+v; want the children's merged", rt)
	}
}

// TestProfileCaptureFails: profiles fetched from a closed port are notes in
// the cell, which keeps every measurement; the run goes on.
func TestProfileCaptureFails(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	closed := closedAddr(t)
	p := profilePlan(t, "goroutine", 0)
	opts := Options{Plan: p, Binary: binary, OutDir: t.TempDir(), Profiles: []profiling.Kind{profiling.CPU, profiling.Heap}}
	opts.pprofAddr = func(string) string { return closed }
	o, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run = %v; want the run to go on", err)
	}
	c := o.Run.Cells[0]
	checkCell(t, o.Dir, c, false)
	notes := profileNotes(c)
	if len(notes) != 2 || !strings.Contains(notes[0], "cpu profile not captured") || !strings.Contains(notes[1], "heap profile not captured") {
		t.Errorf("notes %q; want one per failed capture", notes)
	}
	if !c.Validity.Valid && len(c.Validity.Reasons) == len(notes) {
		t.Errorf("the cell is invalid only because profiling failed: %q", c.Validity.Reasons)
	}
	for k := range c.Files {
		if strings.HasPrefix(k, "profile:") {
			t.Errorf("files list %s, which was not captured", k)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestNarrowRuntime: the runtime figures kept next to a profile are the window's.
func TestNarrowRuntime(t *testing.T) {
	rt := func(cycles uint64, n uint64) *stats.RuntimeStats {
		return &stats.RuntimeStats{GCCycles: cycles,
			SchedLatency: stats.NewRuntimeHist([]stats.RuntimeBucket{{LeUs: 1, N: n}, {LeUs: 4096, N: n / 10}}),
			GCPauses:     stats.NewRuntimeHist([]stats.RuntimeBucket{{LeUs: 50, N: 2 * cycles}})}
	}
	start := &stats.Snapshot{Runtime: rt(10, 100), Procs: []stats.Snapshot{{PIDs: []int{7}, Runtime: rt(4, 50)}}}
	end := &stats.Snapshot{Runtime: rt(13, 300), Procs: []stats.Snapshot{{PIDs: []int{7}, Runtime: rt(5, 80)}}}
	got, notes := narrow(end, start)
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	if r := got.Runtime; r.GCCycles != 3 || r.GCPauses.Count != 6 || r.SchedLatency.Count != 220 || r.SchedLatency.MaxUs != 4096 {
		t.Errorf("narrowed runtime %+v; want 3 cycles, 6 pauses, 220 wake-ups", r)
	}
	if r := got.Procs[0].Runtime; r.GCCycles != 1 || r.SchedLatency.Count != 33 {
		t.Errorf("narrowed child runtime %+v; want 1 cycle, 33 wake-ups", r)
	}
	if end.Runtime.GCCycles != 13 {
		t.Errorf("narrow changed its input")
	}
}
