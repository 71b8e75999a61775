package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/reports"
	"github.com/concbench/concbench/result"
)

// binary is the concbench executable the tests start servers from: built once
// by TestMain, or CONCBENCH_BIN when set.
var binary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		binary = os.Getenv("CONCBENCH_BIN")
		if binary == "" {
			dir, err := os.MkdirTemp("", "concbench-bench-test")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			binary = filepath.Join(dir, "concbench")
			// The servers are measured, not tested here: no race detector.
			// concbench-serve beside it, as make build leaves them: the
			// models run in it, the generator shards in concbench.
			for _, b := range [][2]string{{binary, "github.com/concbench/concbench"}, {filepath.Join(dir, launch.ServeBinary), "github.com/concbench/concbench/cmd/concbench-serve"}} {
				cmd := exec.Command("go", "build", "-o", b[0], b[1])
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Run(); err != nil {
					fmt.Fprintln(os.Stderr, "build", b[1]+":", err)
					return 1
				}
			}
		}
		return m.Run()
	}())
}

// testPlan is a plan of short cells: two classes, 1 s windows.
func testPlan(t *testing.T, ms []string, rates ...float64) plan.Plan {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: test\nmodels: [%s]\nduration: 1s\nwarmup: 200ms\ntimeout: 2s\nscenarios:\n", strings.Join(ms, ", "))
	fmt.Fprintf(&b, "  - name: mix\n    max_connections: 16\n    mix:\n")
	fmt.Fprintf(&b, "      - {name: plain, target: /plain, weight: 9}\n      - {name: cpu, target: \"/cpu?iters=2000\", weight: 1, heavy: true}\n")
	fmt.Fprintf(&b, "    rates: [%s]\n", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(rates)), ", "), "[]"))
	fmt.Fprintf(&b, "slos:\n  - {expr: \"errors < 50%%\"}\n  - {expr: \"p50 < 1ns\", class: plain}\n")
	p, err := plan.Parse([]byte(b.String()), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func needBinary(t *testing.T) {
	t.Helper()
	if binary == "" {
		t.Skip("starts real servers: not in -short mode")
	}
}

// checkNoChildren fails if a process started by the test outlived it.
func checkNoChildren(t *testing.T) {
	t.Helper()
	if tree := procstat.Tree(os.Getpid()); len(tree) > 1 {
		t.Errorf("processes left running after the run: %v", tree[1:])
	}
}

// checkCell asserts what every measured cell must hold. Whether a cell is
// valid depends on the machine (a busy shared machine delays the generator),
// so it is only checked when mustBeInvalid; every invalid cell must say why.
func checkCell(t *testing.T, dir string, c result.Cell, mustBeInvalid bool) {
	t.Helper()
	if mustBeInvalid && c.Validity.Valid {
		t.Errorf("%s: valid; want invalid", c.ID)
	}
	if !c.Validity.Valid && len(c.Validity.Reasons) == 0 {
		t.Errorf("%s: invalid without a reason", c.ID)
	}
	if !c.Validity.Valid {
		t.Logf("%s: invalid: %q", c.ID, c.Validity.Reasons)
	}
	if c.Requests <= 0 {
		t.Fatalf("%s: no requests", c.ID)
	}
	if c.OK+c.Errors != c.Requests {
		t.Errorf("%s: ok %d + errors %d != requests %d", c.ID, c.OK, c.Errors, c.Requests)
	}
	var sum, sumTL int64
	for _, cl := range c.Classes {
		sum += cl.Requests
		if cl.OK+cl.Errors != cl.Requests {
			t.Errorf("%s/%s: ok %d + errors %d != requests %d", c.ID, cl.Name, cl.OK, cl.Errors, cl.Requests)
		}
		// Successes (and censored lower bounds) in the response
		// histogram, failures in their own.
		var failed int64
		if cl.Failed != nil {
			failed = cl.Failed.Count
		}
		if cl.Response.Count != cl.OK+cl.Response.Censored || failed != cl.Errors {
			t.Errorf("%s/%s: response histogram holds %d values (%d censored), failed %d; want %d ok + censored, %d failed",
				c.ID, cl.Name, cl.Response.Count, cl.Response.Censored, failed, cl.OK, cl.Errors)
		}
		f, ok := c.Files["hgrm:"+cl.Name]
		if !ok {
			t.Errorf("%s/%s: no hgrm file in %v", c.ID, cl.Name, c.Files)
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s/%s: histogram file %s: %v", c.ID, cl.Name, f, err)
		}
	}
	if sum != c.Requests {
		t.Errorf("%s: classes sum to %d requests, cell has %d", c.ID, sum, c.Requests)
	}
	for _, s := range c.Timeline {
		sumTL += s.Requests
	}
	if sumTL != c.Requests {
		t.Errorf("%s: timeline sums to %d requests, cell has %d", c.ID, sumTL, c.Requests)
	}
	if len(c.Timeline) != int(c.DurationSec) {
		t.Errorf("%s: %d timeline seconds, want %g", c.ID, len(c.Timeline), c.DurationSec)
	}
	r := c.Resources
	if r.Samples < 2 || r.PeakRSSBytes <= 0 || r.PeakThreads <= 0 || r.CPUSeconds < 0 || r.MeanCPUPct < 0 {
		t.Errorf("%s: resources %+v", c.ID, r)
	}
	// The idle reading came after at least the two quiet steps, and the
	// server's CPUs were read for the host's steal (on 2 CPUs or more it is
	// pinned to one of its own).
	if r.IdleRSSBytes <= 0 || r.IdleWaitSec < (idleQuietSteps*idleStep).Seconds() {
		t.Errorf("%s: idle RSS %d after %gs", c.ID, r.IdleRSSBytes, r.IdleWaitSec)
	}
	if avail, _ := cpuset.Available(); len(avail) >= 2 && (r.ServerStealPct == nil || *r.ServerStealPct < 0 || *r.ServerStealPct > 100) {
		t.Errorf("%s: server steal %v, want 0–100 %%", c.ID, r.ServerStealPct)
	}
	e, _ := catalog.Lookup(c.Model)
	goModel := e.Kind == catalog.GoModel
	if c.Server.Model != c.Model || goModel && c.Server.GOMAXPROCS < 1 || len(c.Server.PIDs) == 0 {
		t.Errorf("%s: server snapshot model %q gomaxprocs %d pids %v", c.ID, c.Server.Model, c.Server.GOMAXPROCS, c.Server.PIDs)
	}
	for _, pid := range c.Server.PIDs {
		if procstat.Alive(pid) {
			t.Errorf("%s: server process %d still running after the run", c.ID, pid)
		}
	}
	if goModel && !strings.Contains(strings.Join(c.ServerArgs, " "), "serve --model "+c.Model+" ") {
		t.Errorf("%s: server args %q", c.ID, c.ServerArgs)
	}
	// A cluster's balance decides what a blocked child costs: results name
	// it even when the plan leaves it to the default.
	if c.Model == "cluster" && !slices.Contains(c.ServerArgs, "--balance") {
		t.Errorf("%s: server args %q; want --balance named", c.ID, c.ServerArgs)
	}
}

// TestRunEveryModel runs one short cell against every model and checks the
// results file.
func TestRunEveryModel(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	names := catalog.Names()
	p := testPlan(t, names, 100)
	out := t.TempDir()
	var log strings.Builder
	o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: out, Version: "test", Log: &log})
	if err != nil {
		t.Fatalf("Run = %v\n%s", err, log.String())
	}
	t.Logf("log:\n%s", log.String())
	if filepath.Dir(o.Dir) != out || !strings.HasSuffix(o.Dir, "-test") {
		t.Errorf("results dir %s; want %s/<timestamp>-test", o.Dir, out)
	}
	r, err := result.Load(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// A reference system that is not installed is skipped, with why.
	for _, sk := range r.Skipped {
		t.Logf("skipped %s: %s", sk.Model, sk.Reason)
		names = slices.DeleteFunc(names, func(m string) bool { return m == sk.Model })
	}
	if r.Interrupted || len(r.Cells) != len(names) {
		t.Fatalf("interrupted %t, %d cells (want %d)", r.Interrupted, len(r.Cells), len(names))
	}
	e := r.Env
	if e.GoVersion == "" || e.Cores < 1 || e.LoadgenGOMAXPROCS < 1 || e.Kernel == "" || e.ConcbenchVersion != "test" {
		t.Errorf("environment %+v", e)
	}
	if runtime.NumCPU() >= 2 && (e.Pinning.ServerCPUs == "" || e.Pinning.LoadgenCPUs == "") {
		t.Errorf("pinning %+v; want both pinned on %d CPUs", e.Pinning, runtime.NumCPU())
	}
	for i, c := range r.Cells {
		if c.Model != names[i] {
			t.Errorf("cell %d is %s, want %s", i, c.Model, names[i])
		}
		checkCell(t, o.Dir, c, false)
	}
	// SLOs: errors < 50% passes everywhere; p50 < 1ns breaks on every plain
	// class of a valid cell; invalid cells are skipped.
	broken, skipped := SLOCounts(r.SLOs)
	if len(r.SLOs) != 3*len(names) || broken != len(names)-o.Invalid || skipped != 3*o.Invalid || o.SLOBroken != broken {
		t.Errorf("SLO results: %d checks, %d broken, %d skipped (outcome %d): %+v", len(r.SLOs), broken, skipped, o.SLOBroken, r.SLOs)
	}
	checkReport(t, o.Dir, r)
}

// checkReport renders the report of a real run and checks that every chart
// decodes and is not blank, and that the page and summary are there.
func checkReport(t *testing.T, dir string, r *result.Run) {
	t.Helper()
	if err := reports.Write(dir, r); err != nil {
		t.Fatalf("reports.Write on a real run: %v", err)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(pngs) == 0 {
		t.Fatal("report of a real run: no charts")
	}
	for _, p := range pngs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b := img.Bounds()
		first, varied := img.At(b.Min.X, b.Min.Y), false
		for y := b.Min.Y; y < b.Max.Y && !varied; y += 7 {
			for x := b.Min.X; x < b.Max.X; x += 7 {
				if img.At(x, y) != first {
					varied = true
					break
				}
			}
		}
		if !varied {
			t.Errorf("%s is blank", p)
		}
	}
	for _, name := range []string{reports.HTMLFile, reports.MarkdownFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("report of a real run: %s missing or empty (%v)", name, err)
		}
	}
}

// TestGeneratorBound: a cell offered more than the generator can send is
// flagged invalid, never reported as the server's latency.
func TestGeneratorBound(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	t.Run("ceiling", func(t *testing.T) {
		// 70% of a measured ceiling of 100 req/s is 70: a cell offered 80 is generator-bound.
		p := testPlan(t, []string{"goroutine"}, 80)
		o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir(), CeilingRPS: 100})
		if err != nil {
			t.Fatal(err)
		}
		c := o.Run.Cells[0]
		checkCell(t, o.Dir, c, true)
		if !strings.Contains(strings.Join(c.Validity.Reasons, " "), "ceiling") {
			t.Errorf("reasons %q do not mention the ceiling", c.Validity.Reasons)
		}
		if o.Invalid != 1 {
			t.Errorf("outcome counts %d invalid cells, want 1", o.Invalid)
		}
		if _, skipped := SLOCounts(o.Run.SLOs); skipped != len(o.Run.SLOs) {
			t.Errorf("SLO checks of an invalid cell not skipped: %+v", o.Run.SLOs)
		}
	})
	t.Run("overload", func(t *testing.T) {
		// Far more than one CPU of generator can send, with connections to
		// spare: the generator, not the pool, is the limit.
		p := testPlan(t, []string{"goroutine"}, 300000)
		if err := p.Apply(plan.Overrides{Warmup: plan.NoWarmup, MaxConns: 2048}); err != nil {
			t.Fatal(err)
		}
		o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		c := o.Run.Cells[0]
		t.Logf("offered %g, sent %.0f, achieved %.0f req/s: %q", c.Rate, c.SentRPS, c.AchievedRPS, c.Validity.Reasons)
		if c.Validity.Valid {
			t.Errorf("cell offered %g req/s, sent %.0f: valid; want generator-bound", c.Rate, c.SentRPS)
		}
	})
}

// TestInterrupt cancels the run in the middle of its second cell: the first is
// kept, the file parses and says interrupted, no server is left running.
func TestInterrupt(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	p := testPlan(t, []string{"goroutine"}, 50, 60, 70)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{Plan: p, Binary: binary, OutDir: t.TempDir()}
	opts.cellDone = func(i int, c result.Cell) {
		if i == 0 {
			time.AfterFunc(700*time.Millisecond, cancel)
		}
	}
	start := time.Now()
	o, err := Run(ctx, opts)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run = %v; want ErrInterrupted", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("interrupted run took %s to return", d)
	}
	r, lerr := result.Load(o.Dir)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if !r.Interrupted || len(r.Cells) != 1 || r.Cells[0].Rate != 50 {
		t.Fatalf("interrupted %t, cells %d; want the first cell only", r.Interrupted, len(r.Cells))
	}
	checkCell(t, o.Dir, r.Cells[0], false)
}

// TestServerDoesNotStart: a server that exits at once makes an invalid cell
// with the reason, and the run goes on.
func TestServerDoesNotStart(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	script := filepath.Join(t.TempDir(), "broken")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'serve: address already in use' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := testPlan(t, []string{"goroutine"}, 50, 60)
	o, err := Run(context.Background(), Options{Plan: p, Binary: script, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Run.Cells) != 2 || o.Invalid != 2 {
		t.Fatalf("%d cells, %d invalid; want 2, 2", len(o.Run.Cells), o.Invalid)
	}
	want := "server did not start: server exited before listening (exit status 1); stderr: serve: address already in use"
	if got := o.Run.Cells[0].Validity.Reasons; len(got) != 1 || got[0] != want {
		t.Errorf("reasons %q; want %q", got, want)
	}
}

// threadMasks counts this process's threads by CPU affinity ("0", "0,1", ...).
func threadMasks(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var m unix.CPUSet
		if unix.SchedGetaffinity(tid, &m) != nil {
			continue
		}
		var cpus []string
		for c := 0; c < 1024; c++ {
			if m.IsSet(c) {
				cpus = append(cpus, strconv.Itoa(c))
			}
		}
		out[strings.Join(cpus, ",")]++
	}
	return out
}

// TestPinning: during a run every thread of the generator is on its CPU and
// the server on its own; afterwards the process has its CPUs back.
func TestPinning(t *testing.T) {
	needBinary(t)
	avail, err := cpuset.Available()
	if err != nil || len(avail) < 2 {
		t.Skipf("needs 2 CPUs (have %v, %v)", avail, err)
	}
	before := threadMasks(t)
	if len(before) != 1 {
		t.Fatalf("threads start with different affinities: %v", before)
	}
	procs := runtime.GOMAXPROCS(0)
	p := testPlan(t, []string{"goroutine"}, 50)
	opts := Options{Plan: p, Binary: binary, OutDir: t.TempDir()}
	var during map[string]int
	opts.cellDone = func(int, result.Cell) { during = threadMasks(t) }
	o, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	lg := strconv.Itoa(avail[0])
	if len(during) != 1 || during[lg] == 0 {
		t.Errorf("threads during the run: %v; want all on CPU %s", during, lg)
	}
	c := o.Run.Cells[0]
	if c.Server.GOMAXPROCS != 1 || o.Run.Env.LoadgenGOMAXPROCS != 1 || o.Run.Env.Pinning.ServerCPUs != strconv.Itoa(avail[1]) {
		t.Errorf("server GOMAXPROCS %d, generator %d, pinning %+v; want 1, 1, server on CPU %d",
			c.Server.GOMAXPROCS, o.Run.Env.LoadgenGOMAXPROCS, o.Run.Env.Pinning, avail[1])
	}
	if after := threadMasks(t); len(after) != 1 || after[avail.String()] == 0 {
		t.Errorf("threads after the run: %v; want all back on %s", after, avail)
	}
	if runtime.GOMAXPROCS(0) != procs {
		t.Errorf("GOMAXPROCS after the run = %d; want %d back", runtime.GOMAXPROCS(0), procs)
	}
}

// TestRetries: a cell the generator's verdict calls generator-bound for a
// transient reason is rerun up to plan.Retries times, the discarded attempts
// kept in results.json; a permanent reason is not rerun. (Which verdicts are
// transient is loadgen's TestJudge; here the verdict is forced.)
func TestRetries(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	for _, tt := range []struct {
		name      string
		flagged   int  // attempts the hook flags generator-bound
		transient bool // ... for a transient reason
		attempts  int  // attempts expected
		valid     bool // the kept one
	}{
		{"recovers", 1, true, 2, true},
		{"gives up after the retries", 5, true, 3, false},
		{"permanent reasons are not retried", 5, false, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan(t, []string{"goroutine"}, 50)
			p.Retries = 2
			opts := Options{Plan: p, Binary: binary, OutDir: t.TempDir()}
			attempts := 0
			// The generator's own verdict is replaced, so that a real stall
			// on a busy machine cannot add or remove an attempt.
			opts.verdict = func(id string, v *result.Validity) {
				attempts++
				*v = result.Validity{Valid: true}
				if attempts <= tt.flagged {
					v.Invalidate(result.CauseGenerator, fmt.Sprintf("Generator-bound: forced, attempt %d.", attempts))
					v.Transient = tt.transient
				}
			}
			o, err := Run(context.Background(), opts)
			if err != nil && tt.valid {
				t.Fatal(err)
			}
			if attempts != tt.attempts {
				t.Errorf("%d attempts; want %d", attempts, tt.attempts)
			}
			r, err := result.Load(o.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Cells) != 1 {
				t.Fatalf("%d cells in results.json; want 1", len(r.Cells))
			}
			c := r.Cells[0]
			if c.Validity.Valid != tt.valid {
				t.Errorf("kept attempt valid %t; want %t (%q)", c.Validity.Valid, tt.valid, c.Validity.Reasons)
			}
			if len(c.Discarded) != tt.attempts-1 {
				t.Fatalf("%d discarded attempts in results.json; want %d", len(c.Discarded), tt.attempts-1)
			}
			for i, a := range c.Discarded {
				if a.Validity.Valid || !a.Validity.Transient || len(a.Validity.Reasons) == 0 ||
					!strings.Contains(a.Validity.Reasons[0], fmt.Sprintf("forced, attempt %d.", i+1)) || a.Generator == nil || a.Generator.CPUs == 0 {
					t.Errorf("discarded attempt %d: %+v; want attempt %d's forced verdict and the generator's health", i+1, a, i+1)
				}
			}
			retried := strings.Contains(strings.Join(c.Validity.Reasons, " "), "Retried: earlier attempts came out generator-bound")
			if retried != (tt.attempts > 1) {
				t.Errorf("kept attempt's reasons %q: retried note %t; want %t", c.Validity.Reasons, retried, tt.attempts > 1)
			}
			if c.Generator.Health == nil || c.Generator.Health.CPUs == 0 {
				t.Errorf("kept attempt: no generator health in results.json: %+v", c.Generator)
			}
		})
	}
}
