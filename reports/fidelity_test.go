package reports

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// fidelityFigures are one model's figures in one scenario of the synthetic
// fidelity run (repetition 2 is 10 % slower, for a spread).
type fidelityFigures struct {
	cheapP99, heavyP50, heavyP99 float64 // ms; heavy 0: no heavy class
	rssMiB                       float64
	threads                      int
	errRate                      float64 // all 5xx
	generatorBound               bool
	active                       int // threads that ran over the window
}

// fidelityRun is a synthetic run of the fidelity plan's shape: three pairs,
// one reference not installed (apache-worker), one scenario for the pool
// pair only, one pair's cells generator-bound in one scenario.
func fidelityRun() *result.Run {
	d := func(s string) plan.Duration { v, _ := time.ParseDuration(s); return plan.Duration(v) }
	p := plan.Plan{
		Name: "fidelity", Description: "synthetic fidelity run for the reports tests",
		Models:   []string{"eventloop", "node-loop", "offload", "node-pool", "thread", "apache-worker"},
		Duration: d("6s"), Warmup: d("500ms"), Reps: 2, MaxConnections: 64, Timeout: d("5s"),
		Scenarios: []plan.Scenario{
			{Name: "cpu-mix", Mix: []plan.Class{{Name: "plain", Target: "/plain", Weight: 98},
				{Name: "cpu", Target: "/cpu?iters=300000", Weight: 2, Heavy: true, Calibrate: d("100ms")}}, Rates: []float64{200}},
			{Name: "io-wait", Mix: []plan.Class{{Name: "io", Target: "/io?ms=100", Weight: 1}}, Rates: []float64{2000}, MaxConnections: 512},
			{Name: "pool-saturation", Models: []string{"offload", "node-pool"},
				Mix: []plan.Class{{Name: "plain", Target: "/plain", Weight: 1},
					{Name: "cpu", Target: "/cpu?iters=300000", Weight: 1, Heavy: true, Calibrate: d("100ms")}}, Rates: []float64{60}},
		},
	}
	figs := map[[2]string]fidelityFigures{
		{"eventloop", "cpu-mix"}:       {cheapP99: 96, heavyP50: 101, heavyP99: 190, rssMiB: 12, threads: 6, active: 4},
		{"node-loop", "cpu-mix"}:       {cheapP99: 88, heavyP50: 99, heavyP99: 170, rssMiB: 58, threads: 14, active: 13},
		{"offload", "cpu-mix"}:         {cheapP99: 37.9, heavyP50: 130, heavyP99: 260, rssMiB: 14, threads: 9, active: 8},
		{"node-pool", "cpu-mix"}:       {cheapP99: 4.1, heavyP50: 104, heavyP99: 150, rssMiB: 70, threads: 12, active: 8},
		{"thread", "cpu-mix"}:          {cheapP99: 3.2, heavyP50: 100, heavyP99: 120, rssMiB: 13, threads: 11, active: 8},
		{"eventloop", "io-wait"}:       {cheapP99: 102, rssMiB: 15, threads: 6, active: 5},
		{"node-loop", "io-wait"}:       {cheapP99: 104, rssMiB: 86, threads: 7, active: 5},
		{"offload", "io-wait"}:         {cheapP99: 103, rssMiB: 16, threads: 9, active: 8},
		{"node-pool", "io-wait"}:       {cheapP99: 180, rssMiB: 71, threads: 12, generatorBound: true, active: 5},
		{"thread", "io-wait"}:          {cheapP99: 101, rssMiB: 80, threads: 212, active: 210},
		{"offload", "pool-saturation"}: {cheapP99: 41, heavyP50: 1400, heavyP99: 1700, rssMiB: 15, threads: 9, errRate: 0.31, active: 9},
		{"node-pool", "pool-saturation"}: {cheapP99: 3.5, heavyP50: 1500, heavyP99: 1650, rssMiB: 72, threads: 32,
			errRate: 0.29, active: 30},
	}
	run := &result.Run{
		Plan: p, Started: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 3, 9, 10, 0, 0, time.UTC),
		Env:     result.Environment{GoVersion: "go1.26.0", OS: "linux", Arch: "amd64", Cores: 2, CPUModel: "Fixture CPU"},
		Skipped: []result.Skipped{{Model: "apache-worker", Reason: "apache2 not found (install it with scripts/install-references.sh)"}},
	}
	for _, m := range []string{"eventloop", "node-loop", "offload", "node-pool", "thread"} {
		for _, s := range p.Scenarios {
			for _, c := range s.Mix {
				if c.Calibrate > 0 && s.RunsModel(m) {
					run.Calibrations = append(run.Calibrations, result.Calibration{Model: m, Scenario: s.Name, Class: c.Name,
						Target: c.Target, Used: fmt.Sprintf("/cpu?iters=%d", map[string]int{"eventloop": 333000, "node-loop": 9600, "offload": 331000, "node-pool": 9800, "thread": 340000}[m]),
						Param: "iters", GoalMs: 100, MeasuredMs: 97.5, Samples: 3})
				}
			}
		}
	}
	for rep := 1; rep <= p.Reps; rep++ {
		slow := 1 + 0.1*float64(rep-1)
		for _, s := range p.Scenarios {
			for _, m := range p.Models {
				f, ok := figs[[2]string{m, s.Name}]
				if !ok || !s.RunsModel(m) {
					continue
				}
				c := result.Cell{ID: fmt.Sprintf("%s.%s.r%g.%d", m, s.Name, s.Rates[0], rep), Model: m, Scenario: s.Name, Rep: rep, Rate: s.Rates[0],
					DurationSec: 6, WarmupSec: 0.5, Validity: result.Validity{Valid: true}}
				for _, cl := range s.Mix {
					// 6 s: enough cheap answers per repetition (≥ 1000) for a p99.
					n := int64(s.Rates[0] * 6 * float64(cl.Weight) / float64(mixTotal(s.Mix)))
					x := result.Class{Name: cl.Name, Target: cl.Target, Weight: cl.Weight, Heavy: cl.Heavy, Requests: n}
					p99, p50 := f.cheapP99*slow, f.cheapP99*slow/4
					if cl.Heavy {
						p99, p50 = f.heavyP99*slow, f.heavyP50*slow
						x.Errors = int64(f.errRate * 2 * float64(n))
						if x.Errors > 0 {
							x.ErrorsByKind = map[string]int64{"status_5xx": x.Errors}
						}
					}
					x.OK = n - x.Errors
					x.Response = result.Latency{Count: x.OK, P50: p50, P90: p99 * 0.8, P99: p99, P999: p99 * 1.1, Max: p99 * 1.2, Mean: p50}
					x.Service = x.Response
					c.Classes = append(c.Classes, x)
					c.Requests += n
					c.OK += x.OK
					c.Errors += x.Errors
				}
				c.AchievedRPS = float64(c.Requests) / 6
				// Idle: the runtime before load (V8's ~48 MiB, a Go
				// model's ~10 MiB), the threads the model starts with.
				idle := 10.0
				if strings.HasPrefix(m, "node-") {
					idle = 48
				}
				c.Resources = result.Resources{Samples: 8, PeakRSSBytes: int64(f.rssMiB * slow * (1 << 20)), PeakThreads: f.threads,
					IdleRSSBytes: int64(idle * (1 << 20)), IdleThreads: min(f.threads, 12), ActiveThreads: f.active}
				if f.generatorBound {
					c.Validity.Invalidate(result.CauseGenerator, "generator-bound: the generator stalled 40 ms or more for 1% of the window")
				}
				run.Cells = append(run.Cells, c)
			}
		}
	}
	return run
}

func mixTotal(mix []plan.Class) int {
	t := 0
	for _, c := range mix {
		t += c.Weight
	}
	return t
}

// section returns the part of s from the first line starting with start up
// to (not including) the next line starting with end, or to the end.
func section(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	rest := s[i:]
	if j := strings.Index(rest[len(start):], end); j >= 0 && end != "" {
		return rest[:len(start)+j]
	}
	return rest
}

// TestFidelityGolden pins the Fidelity section of the stdout table,
// summary.md and report.html of the synthetic run.
func TestFidelityGolden(t *testing.T) {
	r, err := Build(fidelityRun())
	if err != nil {
		t.Fatal(err)
	}
	if r.Fidelity == nil {
		t.Fatal("Build made no Fidelity of a run with three pairs")
	}
	var table, md, page bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&table, r.Fidelity.Line())
	golden(t, "fidelity-table.golden", []byte(section(table.String(), "\nFIDELITY", "")))
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, "fidelity-summary.md.golden", []byte(section(md.String(), "\n## Fidelity", "\n## Findings")))
	if err := r.WriteHTML(&page, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	golden(t, "fidelity-report.html.golden", []byte(section(page.String(), "\n<style>\ntr.differs", "\n<h2 id=\"charts\">")))
}

// TestFidelityByFloor: a match only a floor decided is marked and counted in
// the last line; one within the factor is not.
func TestFidelityByFloor(t *testing.T) {
	r, err := Build(fidelityRun())
	if err != nil {
		t.Fatal(err)
	}
	f := r.Fidelity
	byFloor := map[string]bool{}
	n := 0
	for _, x := range f.Rows {
		if x.Figure == FigureThreads && x.Scenario == "cpu-mix" {
			byFloor[x.Pair] = x.ByFloor
		}
		if x.ByFloor {
			n++
			if x.Verdict != Matches {
				t.Errorf("%s %s %s: by floor, yet %s", x.Pair, x.Scenario, x.Figure, x.Verdict)
			}
		}
	}
	if !byFloor["eventloop ↔ node-loop"] || byFloor["offload ↔ node-pool"] {
		t.Errorf("threads that ran in cpu-mix by floor = %v; want eventloop ↔ node-loop (4 vs 13) only, not offload ↔ node-pool (8 vs 8)", byFloor)
	}
	if want := fmt.Sprintf("(%d of them by a floor alone", n); f.ByFloor != n || !strings.Contains(f.Line(), want) {
		t.Errorf("ByFloor = %d, Line = %q; want %d, and %q in it", f.ByFloor, f.Line(), n, want)
	}
}

// TestFidelityVerdicts pins the verdicts that carry the section's meaning.
func TestFidelityVerdicts(t *testing.T) {
	r, err := Build(fidelityRun())
	if err != nil {
		t.Fatal(err)
	}
	f := r.Fidelity
	tests := []struct {
		pair, scenario, figure, verdict string
	}{
		{"eventloop ↔ node-loop", "cpu-mix", FigureCheapP99, Matches},  // 96 vs 88 ms
		{"eventloop ↔ node-loop", "cpu-mix", FigureDiagnosis, Matches}, // both blocked
		{"eventloop ↔ node-loop", "cpu-mix", FigurePeakRSS, Matches},   // peaks 12 vs 58 MiB, growths 2 vs 10
		{"eventloop ↔ node-loop", "io-wait", FigurePeakRSS, Differs},   // growths 5 vs 38 MiB
		{"thread ↔ apache-worker", "io-wait", FigurePeakRSS, NotMeasured},
		{"offload ↔ node-pool", "cpu-mix", FigureThreads, Matches},         // 8 and 8 ran
		{"eventloop ↔ node-loop", "cpu-mix", FigureThreads, Matches},       // 4 vs 13 ran: both under the floor
		{"offload ↔ node-pool", "pool-saturation", FigureThreads, Differs}, // 9 vs 30 ran
		{"offload ↔ node-pool", "cpu-mix", FigureCheapP99, Differs},        // 37.9 vs 4.1 ms
		{"offload ↔ node-pool", "cpu-mix", FigureDiagnosis, Matches},       // neither blocked by the rule
		{"offload ↔ node-pool", "io-wait", FigureCheapP99, NotMeasured},    // node-pool generator-bound
		{"offload ↔ node-pool", "pool-saturation", FigureErrors, Matches},
		{"thread ↔ apache-worker", "cpu-mix", FigureCheapP99, NotMeasured}, // not installed: never matches
		{"thread ↔ apache-worker", "io-wait", FigureThreads, NotMeasured},
	}
	for _, tt := range tests {
		var got []string
		for _, x := range f.Rows {
			if x.Pair == tt.pair && x.Scenario == tt.scenario && x.Figure == tt.figure {
				got = append(got, x.Verdict+" ("+x.Reason+")")
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.verdict+" (") {
			t.Errorf("%s %s %s: verdicts %q; want one %q", tt.pair, tt.scenario, tt.figure, got, tt.verdict)
		}
	}
	for _, x := range f.Rows {
		if x.Reference == "apache-worker" && x.Verdict != NotMeasured {
			t.Errorf("%s %s %s = %s; a reference that did not run is never compared", x.Pair, x.Scenario, x.Figure, x.Verdict)
		}
		if x.Scenario == "pool-saturation" && x.Pair != "offload ↔ node-pool" {
			t.Errorf("pool-saturation compared for %s, which the scenario does not run", x.Pair)
		}
	}
	matched, notMeasured := 0, 0
	for _, x := range f.Rows {
		switch x.Verdict {
		case Matches:
			matched++
		case NotMeasured:
			notMeasured++
		}
	}
	want := fmt.Sprintf("fidelity: %d of %d comparisons match (%d of them by a floor alone: both under it, more than the factor apart; %d not measured)", matched, len(f.Rows), f.ByFloor, notMeasured)
	if f.Line() != want || matched != f.Matched {
		t.Errorf("Line() = %q (Matched %d); want %q", f.Line(), f.Matched, want)
	}
}

// TestNoFidelityWithoutPairs: a run of Go models alone has no Fidelity
// section, so its report is as before.
func TestNoFidelityWithoutPairs(t *testing.T) {
	if r := buildFixture(t); r.Fidelity != nil {
		t.Errorf("the fixture (Go models only) has a Fidelity section: %+v", r.Fidelity.Pairs)
	}
}
