package runner

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/workloads"
)

// fakeCost is a server whose requests cost a fixed time per unit of a
// parameter (linear) or double per unit (doubling), without running.
type fakeCost struct {
	param  string
	perOne time.Duration // linear: cost of one unit
	base   time.Duration // doubling: cost at v=0
	double bool
	calls  []int
}

func (f *fakeCost) measure(target string) (time.Duration, error) {
	v, err := strconv.Atoi(param(target, f.param))
	if err != nil {
		return 0, fmt.Errorf("target %q: %v", target, err)
	}
	f.calls = append(f.calls, v)
	if f.double {
		reps, _ := strconv.Atoi(param(target, "reps"))
		return f.base << v * time.Duration(max(reps, 1)), nil
	}
	return time.Duration(v) * f.perOne, nil
}

func TestSearchLinear(t *testing.T) {
	tests := []struct {
		name   string
		perOne time.Duration
		start  int
		want   int
	}{
		{"Go-like 0.3µs per round", 300 * time.Nanosecond, 1000, 333333},
		{"Lua-like 100µs per round", 100 * time.Microsecond, 1000, 1000},
		{"V8-like 2µs per round", 2 * time.Microsecond, 1000, 50000},
		{"bounded by MaxIters", time.Nanosecond, 1000, 100_000_000},
	}
	for _, tt := range tests {
		f := &fakeCost{param: "iters", perOne: tt.perOne}
		target := "/cpu?iters=200000&chunk=100" // 2000 chunks
		got, err := searchLinear(itersTarget(target, workloads.Request{Iters: 200000, Chunk: 100}), tt.start, 100_000_000, 100*time.Millisecond, f.measure)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if v, _ := strconv.Atoi(param(got.target, "iters")); v != tt.want {
			t.Errorf("%s: searchLinear chose %s (%s) after %v; want iters=%d", tt.name, got.target, got.took, f.calls, tt.want)
		}
		// The number of chunks stays the plan's: each chunk takes the same
		// time on every server.
		if want := strconv.Itoa(max(1, int(math.Round(float64(tt.want)/2000)))); param(got.target, "chunk") != want {
			t.Errorf("%s: %s; want chunk=%s (2000 chunks, as written)", tt.name, got.target, want)
		}
		if u := itersTarget("/cpu?iters=5000", workloads.Request{Iters: 5000})(7); u != "/cpu?iters=7" {
			t.Errorf("itersTarget of an unchunked hash = %s; want /cpu?iters=7", u)
		}
		if len(f.calls) > calMaxSteps {
			t.Errorf("%s: %d measurements; want at most %d", tt.name, len(f.calls), calMaxSteps)
		}
	}
}

func TestSearchDoubling(t *testing.T) {
	tests := []struct {
		name      string
		base      time.Duration
		start, hi int
		want      int
	}{
		// 100 ms = base·2^n: base 100ms/2^20 ⇒ n=20 exactly.
		{"from below", 100 * time.Millisecond >> 20, 14, 26, 20},
		{"from above", 100 * time.Millisecond >> 10, 14, 26, 10},
		{"closest by ratio", 70 * time.Millisecond >> 18, 14, 26, 19}, // 70 ms at 18, 140 ms at 19
		{"bounded", time.Microsecond, 14, 16, 16},
	}
	for _, tt := range tests {
		f := &fakeCost{param: "n", base: tt.base, double: true}
		got, err := searchDoubling("/regex?n=20&engine=backtrack", "n", tt.start, tt.hi, 100*time.Millisecond, f.measure)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if v, _ := strconv.Atoi(param(got.target, "n")); v != tt.want {
			t.Errorf("%s: searchDoubling chose %s (%s) after %v; want n=%d", tt.name, got.target, got.took, f.calls, tt.want)
		}
	}
}

// TestSearchReps: a doubling search that lands more than calTolerance from
// the goal is refined with reps of a smaller n, and one within it is kept.
func TestSearchReps(t *testing.T) {
	tests := []struct {
		name    string
		base    time.Duration
		want    string
		refined bool
	}{
		// 70 ms at n=18, 140 ms at 19: n=19 is closest; 19-4=15 takes
		// 8.75 ms, and 11 of them 96 ms.
		{"between two n", 70 * time.Millisecond >> 18, "/regex?n=15&engine=backtrack&reps=11", true},
		// 60 ms at n=20, 120 ms at 21 (closest by ratio): 21-4=17 takes
		// 7.5 ms, 13 of them 97.5 ms.
		{"above the goal", 60 * time.Millisecond >> 20, "/regex?n=17&engine=backtrack&reps=13", true},
		// 100 ms at n=20 exactly: nothing to refine.
		{"on the goal", 100 * time.Millisecond >> 20, "/regex?n=20&engine=backtrack", false},
	}
	for _, tt := range tests {
		f := &fakeCost{param: "n", base: tt.base, double: true}
		goal := 100 * time.Millisecond
		got, err := searchDoubling("/regex?n=20&engine=backtrack", "n", 14, workloads.MaxUnboundedBacktrackN, goal, f.measure)
		if err != nil {
			t.Fatal(err)
		}
		if refined := !within(got.took, goal, calTolerance); refined != tt.refined {
			t.Fatalf("%s: doubling search chose %s (%s); refine = %v, want %v", tt.name, got.target, got.took, refined, tt.refined)
		}
		if tt.refined {
			if got, err = searchReps(got, goal, f.measure); err != nil {
				t.Fatal(err)
			}
		}
		if got.target != tt.want || !within(got.took, goal, calTolerance) {
			t.Errorf("%s: calibrated to %s (%s) after %v; want %s, within ×%v of %s", tt.name, got.target, got.took, f.calls, tt.want, calTolerance, goal)
		}
		if _, err := workloads.Parse("GET", "/regex", strings.TrimPrefix(got.target, "/regex?")); err != nil {
			t.Errorf("%s: %s is refused by the route table: %s", tt.name, got.target, err.Msg)
		}
	}
}

// TestConfirm: the search stopped on lucky samples (85,481 rounds "in 105
// ms" on a server whose rounds cost 2.3 µs: 197 ms); the final measurement
// finds it out and scales once. A target the final measurement confirms is
// kept, and so is one without a linear parameter.
func TestConfirm(t *testing.T) {
	goal := 100 * time.Millisecond
	cpu := &fakeCost{param: "iters", perOne: 2300 * time.Nanosecond}
	mk := itersTarget("/cpu?iters=300000&chunk=1000&defer=tick", workloads.Request{Iters: 300000, Chunk: 1000})
	rescale := func(p calPoint) string { return mk(proportional(p, "iters", goal, workloads.MaxIters)) }
	got, err := confirm(calPoint{mk(85481), 105 * time.Millisecond}, goal, rescale, cpu.measure)
	if err != nil {
		t.Fatal(err)
	}
	// 85,481 × 100 / 196.6 = 43,478 rounds: 100 ms.
	if want := mk(43478); got.target != want || !within(got.took, goal, calTolerance) {
		t.Errorf("confirm = %s (%s) after %v; want %s, within ×%v of %s", got.target, got.took, cpu.calls, want, calTolerance, goal)
	}
	if len(cpu.calls) != 2 {
		t.Errorf("confirm measured %v; want the chosen target, then the rescaled one", cpu.calls)
	}

	cpu.calls = nil
	if got, _ := confirm(calPoint{mk(43478), 90 * time.Millisecond}, goal, rescale, cpu.measure); got.target != mk(43478) || len(cpu.calls) != 1 {
		t.Errorf("confirm of a target on the goal = %s after %v; want it kept, measured once", got.target, cpu.calls)
	}

	// A doubling n alone cannot be scaled: measured again, kept as is.
	re := &fakeCost{param: "n", base: 70 * time.Millisecond >> 18, double: true}
	if got, _ := confirm(calPoint{"/regex?n=19&engine=backtrack", 100 * time.Millisecond}, goal, nil, re.measure); got.target != "/regex?n=19&engine=backtrack" || got.took != re.base<<19 {
		t.Errorf("confirm of n=19 without reps = %s (%s); want it kept, with its final measurement (140ms)", got.target, got.took)
	}
}

func TestWithParam(t *testing.T) {
	tests := []struct {
		in, p string
		v     int
		want  string
	}{
		{"/cpu?iters=200000", "iters", 5, "/cpu?iters=5"},
		{"/cpu?iters=1&chunk=10&defer=tick", "iters", 7, "/cpu?iters=7&chunk=10&defer=tick"},
		{"/regex?engine=backtrack&n=20", "n", 18, "/regex?engine=backtrack&n=18"},
		{"/cpu", "iters", 3, "/cpu?iters=3"},
	}
	for _, tt := range tests {
		if got := withParam(tt.in, tt.p, tt.v); got != tt.want {
			t.Errorf("withParam(%q, %q, %d) = %q; want %q", tt.in, tt.p, tt.v, got, tt.want)
		}
	}
}

// TestCalibrateClassFailure: a server that refuses the work leaves the plan's
// target, with the server's answer as the note.
func TestCalibrateClassFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "regex: engine re2 is not available", http.StatusNotImplemented)
	}))
	defer srv.Close()
	c := calibrateClass(t.Context(), srv.URL, plan.Class{Name: "bt", Target: "/regex?n=20&engine=backtrack", Calibrate: plan.Duration(100 * time.Millisecond)})
	if c.Used != c.Target || c.MeasuredMs != 0 || c.Note == "" {
		t.Errorf("calibrateClass against a failing server = %+v; want the plan's target, nothing measured, a note", c)
	}
}

// TestRunCalibrates runs a plan with a calibrated class and a scenario for
// one model only: the calibration is recorded per model and class, each
// model's cells send the target it found, and the scenario limited to
// goroutine has no thread cell.
func TestRunCalibrates(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	src := `name: cal
models: [goroutine, thread]
duration: 500ms
warmup: 0s
timeout: 2s
scenarios:
  - name: mix
    mix:
      - {name: plain, target: /plain, weight: 9}
      - {name: cpu, target: "/cpu?iters=50", weight: 1, heavy: true, calibrate: 5ms}
    rates: [50]
  - name: only-goroutine
    models: [goroutine]
    mix:
      - {name: plain, target: /plain, weight: 1}
    rates: [50]
`
	p, err := plan.Parse([]byte(src), "cal")
	if err != nil {
		t.Fatal(err)
	}
	o, err := Run(t.Context(), Options{Plan: p, Binary: binary, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Run.Calibrations) != 2 {
		t.Fatalf("calibrations %+v; want one per model for class cpu", o.Run.Calibrations)
	}
	for _, c := range o.Run.Calibrations {
		if c.Scenario != "mix" || c.Class != "cpu" || c.Param != "iters" || c.GoalMs != 5 || c.Note != "" || c.MeasuredMs <= 0 {
			t.Errorf("calibration %+v; want mix/cpu scaled by iters to 5 ms, measured, no note", c)
		}
		// 50 rounds is microseconds on any server: the search went up.
		if c.Used == c.Target {
			t.Errorf("%s: calibration kept %s; want more rounds for a 5 ms request", c.Model, c.Used)
		}
	}
	var ids []string
	for _, c := range o.Run.Cells {
		ids = append(ids, c.ID)
		for _, cl := range c.Classes {
			if cl.Name != "cpu" {
				continue
			}
			if cal := o.Run.CalibrationFor(c.Model, c.Scenario, cl.Name); cal == nil || cl.Target != cal.Used {
				t.Errorf("%s: class cpu sent %s; want the calibrated target %+v", c.ID, cl.Target, cal)
			}
		}
	}
	if want := "goroutine.mix.r50.1 thread.mix.r50.1 goroutine.only-goroutine.r50.1"; strings.Join(ids, " ") != want {
		t.Errorf("cells %v; want %s", ids, want)
	}
}

// TestCalWantsPaired: references are calibrated after the Go models, each to
// the time its own model measured; a model, or a reference whose model was
// not measured, keeps the plan's goal.
func TestCalWantsPaired(t *testing.T) {
	src := `name: pair
models: [node-cluster, cluster, node-loop, apache-worker]
scenarios:
  - name: redos
    mix:
      - {name: plain, target: /plain, weight: 49}
      - {name: backtrack, target: "/regex?n=20&engine=backtrack", weight: 1, heavy: true, calibrate: 100ms}
    rates: [200]
`
	p, err := plan.Parse([]byte(src), "pair")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := calibrationOrder(p.Models), []string{"cluster", "node-cluster", "node-loop", "apache-worker"}; !slices.Equal(got, want) {
		t.Errorf("calibration order %v; want %v", got, want)
	}
	measured := map[calKey]float64{{"cluster", "redos", "backtrack"}: 72.5}
	for _, tc := range []struct {
		model    string
		goal     time.Duration
		goalFrom string
	}{
		{"cluster", 100 * time.Millisecond, ""},
		{"node-cluster", 72500 * time.Microsecond, "cluster"},
		{"node-loop", 100 * time.Millisecond, ""}, // eventloop not measured
	} {
		w := calWants(p, tc.model, measured)
		if len(w) != 1 || w[0].class.Name != "backtrack" || w[0].class.Calibrate.D() != tc.goal || w[0].goalFrom != tc.goalFrom {
			t.Errorf("%s: wants %+v; want backtrack to %s from %q", tc.model, w, tc.goal, tc.goalFrom)
		}
	}
}
