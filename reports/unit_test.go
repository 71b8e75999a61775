package reports

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

func TestStatOf(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in          []float64
		med, lo, hi float64
		n           int
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 3},
		{[]float64{4, 1}, 2.5, 1, 4, 2},
		{[]float64{nan, 5}, 5, 5, 5, 1},
		{[]float64{7}, 7, 7, 7, 1},
	} {
		s := statOf(tc.in)
		if s.Med != tc.med || s.Min != tc.lo || s.Max != tc.hi || s.N != tc.n {
			t.Errorf("statOf(%v) = %+v; want median %g, spread %g–%g, n %d", tc.in, s, tc.med, tc.lo, tc.hi, tc.n)
		}
	}
	if s := statOf([]float64{nan}); s.OK() {
		t.Errorf("statOf([NaN]).OK() = true; want false")
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{safeName("cpu mix/5%"), "cpu-mix-5"},
		{safeName("../x"), "x"},
		{join([]string{"a", "b", "c"}), "a, b and c"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestVictimSLOs(t *testing.T) {
	p := &plan.Plan{SLOs: []plan.SLO{
		{Expr: "errors < 1%"},
		{Class: "cpu", Expr: "p99 <= 2s"}, // a heavy class: not a knee criterion
		{Expr: "p99 <== 5ms"},             // unreadable
	}}
	checks, defaulted, problems := victimSLOs(p, map[string]bool{"cpu": true})
	if got := sloText(checks); got != "errors < 1% and p99 <= 100ms" {
		t.Errorf("victimSLOs checks = %q; want the plan's errors check and the default p99", got)
	}
	if !slices.Equal(defaulted, []string{"p99 <= 100ms"}) {
		t.Errorf("defaulted = %q; want [p99 <= 100ms]", defaulted)
	}
	if len(problems) != 1 {
		t.Errorf("problems = %q; want the unreadable expression", problems)
	}

	// The SLO figures (errors in %) as the aggregation reads them with result.Class.Figure.
	figs := func(p99, errPct float64) map[string]Stat {
		return map[string]Stat{"p99": {Med: p99, N: 1}, "errors": {Med: errPct, N: 1}}
	}
	g := &Group{Model: "m", Scenario: "s", Classes: []ClassFigures{
		{Name: "plain", sloFigures: figs(80, 2)},
		{Name: "cpu", Heavy: true, sloFigures: figs(5000, 0)},
	}}
	if meetsSLOs(g, checks) {
		t.Errorf("meetsSLOs with 2%% errors against errors < 1%% = true; want false")
	}
	g.Classes[0].sloFigures = figs(80, 0.5)
	if !meetsSLOs(g, checks) {
		t.Errorf("meetsSLOs(p99 80 ms, 0.5%% errors; heavy p99 5 s) = false; want true (heavy classes are not checked)")
	}
	g.Classes[0].sloFigures = figs(120, 0.5)
	if meetsSLOs(g, checks) {
		t.Errorf("meetsSLOs(p99 120 ms) against the default p99 <= 100ms = true; want false")
	}
	g.Classes[0].sloFigures = figs(80, 0.5)
	g.Invalid = true
	if meetsSLOs(g, checks) {
		t.Errorf("an invalid group meets the SLOs; want never")
	}
}

// miniRun is a run of one model, built from the given scenarios with one
// valid cell per rate, for the shape tests.
func miniRun(scenarios ...plan.Scenario) *result.Run {
	run := &result.Run{Schema: result.SchemaVersion, Plan: plan.Plan{Name: "mini", Models: []string{"goroutine"}, Reps: 1, Scenarios: scenarios}}
	for _, s := range scenarios {
		for _, rate := range s.Rates {
			c := result.Cell{ID: s.Name, Model: "goroutine", Scenario: s.Name, Rep: 1, Rate: rate, DurationSec: 1,
				AchievedRPS: rate, Requests: int64(rate), OK: int64(rate), PeakInFlight: 3,
				Validity:  result.Validity{Valid: true},
				Resources: result.Resources{PeakRSSBytes: 12 << 20, PeakThreads: 9, CPUPer1kReqMs: 40},
				Timeline:  []result.Second{{T: 0, Requests: int64(rate), P50: 0.3, P99: 0.9}},
			}
			for _, cl := range s.Mix {
				l := result.Latency{Count: 10, P50: 0.3, P90: 0.5, P99: 0.9, P999: 1.5, P9999: 2, Max: 2}
				if cl.Heavy {
					l = result.Latency{Count: 10, P50: 30, P90: 40, P99: 50, P999: 55, P9999: 60, Max: 60}
				}
				c.Classes = append(c.Classes, result.Class{Name: cl.Name, Target: cl.Target, Weight: cl.Weight, Heavy: cl.Heavy,
					Requests: 10, OK: 10, Response: l, Service: l})
			}
			run.Cells = append(run.Cells, c)
		}
	}
	return run
}

func TestFamilies(t *testing.T) {
	plain := plan.Class{Name: "plain", Target: "/plain", Weight: 99}
	heavy := func(iters string, w int) plan.Class {
		return plan.Class{Name: "cpu", Target: "/cpu?iters=" + iters, Weight: w, Heavy: true}
	}
	for _, tc := range []struct {
		name      string
		scenarios []plan.Scenario
		kind      string
		x         []float64
	}{
		{"work size", []plan.Scenario{
			{Name: "small", Mix: []plan.Class{plain, heavy("10000", 1)}, Rates: []float64{100}},
			{Name: "big", Mix: []plan.Class{plain, heavy("40000", 1)}, Rates: []float64{100}},
		}, "size", []float64{10000, 40000}},
		{"share with a baseline", []plan.Scenario{
			{Name: "five", Mix: []plan.Class{plain, heavy("10000", 5)}, Rates: []float64{100, 200}},
			{Name: "none", Mix: []plan.Class{plain}, Rates: []float64{200}},
			{Name: "one", Mix: []plan.Class{plain, heavy("10000", 1)}, Rates: []float64{200}},
		}, "share", []float64{0, 1, 100.0 * 5 / 104}},
	} {
		r, err := Build(miniRun(tc.scenarios...))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Families) != 1 {
			t.Errorf("%s: %d head-of-line families; want 1 (omitted: %+v)", tc.name, len(r.Families), r.Omitted)
			continue
		}
		f := r.Families[0]
		if f.Kind != tc.kind || len(f.X) != len(tc.x) {
			t.Errorf("%s: family %+v; want kind %s, x %v", tc.name, f, tc.kind, tc.x)
			continue
		}
		for i := range f.X {
			if math.Abs(f.X[i]-tc.x[i]) > 1e-9 {
				t.Errorf("%s: x = %v; want %v", tc.name, f.X, tc.x)
			}
		}
		if f.Rate != tc.scenarios[len(tc.scenarios)-1].Rates[0] {
			t.Errorf("%s: family rate %g; want the highest common rate", tc.name, f.Rate)
		}
	}
}

// TestLeftOut checks that a run without what a chart needs renders without it
// and says why, on the page too.
func TestLeftOut(t *testing.T) {
	run := miniRun(plan.Scenario{Name: "io-wait", Mix: []plan.Class{{Name: "io", Target: "/io?ms=50", Weight: 1}}, Rates: []float64{500}})
	run.Interrupted = true
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	for _, o := range r.Omitted {
		families = append(families, o.Family)
	}
	if !slices.Equal(families, []string{"hol", "load", "redos"}) {
		t.Errorf("left out %q; want hol, load and redos", families)
	}
	dir := t.TempDir()
	if _, err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Charts left out", "offered a single rate", "no heavy class of this run targets /regex", "interrupted"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html does not say %q", want)
		}
	}
}

func TestEmptyRun(t *testing.T) {
	run := &result.Run{Schema: result.SchemaVersion, Plan: plan.Plan{Name: "empty"}}
	dir := t.TempDir()
	if err := Write(dir, run); err != nil {
		t.Fatalf("Write(empty run) = %v", err)
	}
	for _, f := range []string{HTMLFile, MarkdownFile} {
		if !fileExists(filepath.Join(dir, f)) {
			t.Errorf("%s not written for an empty run", f)
		}
	}
	var b strings.Builder
	if err := Table(&b, run); err != nil || !strings.Contains(b.String(), "no cells") {
		t.Errorf("Table(empty run) = %q, %v; want a line saying there are no cells", b.String(), err)
	}
	if _, err := Build(nil); err == nil {
		t.Errorf("Build(nil) succeeded; want an error")
	}
}

// causeRun is a run of three models in one scenario at 200 and 500 req/s,
// one repetition each, all valid and keeping up; change adjusts a cell.
func causeRun(change func(c *result.Cell)) *result.Run {
	s := plan.Scenario{Name: "mix", Mix: []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}}, Rates: []float64{200, 500}}
	run := &result.Run{Schema: result.SchemaVersion, Plan: plan.Plan{Name: "causes", Models: []string{"goroutine", "cluster", "thread"}, Reps: 1, Scenarios: []plan.Scenario{s}}}
	for _, rate := range s.Rates {
		for i, m := range run.Plan.Models {
			n := int64(rate * 10)
			l := result.Latency{Count: n, P50: 0.3, P90: 0.5, P99: 0.9 + float64(i), P999: 1.5 + float64(i), P9999: 2 + float64(i), Max: 3 + float64(i)}
			c := result.Cell{ID: m + ".mix.r" + units.Num(rate) + ".1", Model: m, Scenario: "mix", Rep: 1, Rate: rate, DurationSec: 10,
				SentRPS: rate, AchievedRPS: rate, Requests: n, OK: n, Validity: result.Validity{Valid: true},
				Classes: []result.Class{{Name: "plain", Target: "/plain", Weight: 1, Requests: n, OK: n, Response: l, Service: l}}}
			change(&c)
			run.Cells = append(run.Cells, c)
		}
	}
	return run
}

// TestGoodput: goodput is the successful answers per second of the window.
// Timeouts (no status) are not in the achieved rate and are errors: scaling
// the achieved rate by the error share counted them twice, and dropped a
// model that kept 97 % of 500 req/s from the ranking (470 req/s, 94 %).
func TestGoodput(t *testing.T) {
	r, err := Build(causeRun(func(c *result.Cell) {
		if c.Model == "goroutine" && c.Rate == 500 { // 3 % timed out: 4850 answers in 10 s
			c.AchievedRPS, c.OK, c.Errors = 485, 4850, 150
			c.Classes[0].OK, c.Classes[0].Errors, c.Classes[0].ErrorsByKind = 4850, 150, map[string]int64{"timeout": 150}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	g := r.Group("goroutine", "mix", 500)
	if g.Goodput.Med != 485 || !g.KeptUp() {
		t.Errorf("goodput %g req/s, kept up %t; want 485, true", g.Goodput.Med, g.KeptUp())
	}
	if a := r.Advice[0]; a.Best != "goroutine" || !strings.Contains(a.Text, "delivering 485 of 500 req/s with 3.00 % errors") {
		t.Errorf("advice %q: %s; want goroutine delivering 485 of 500 req/s", a.Best, a.Text)
	}
}

// TestServerFailed: a cell whose server failed is reported as such, never as
// generator-bound, and its model loses the ranking instead of leaving it; a
// cell of an old file, invalid without a cause, reads as generator-bound.
func TestServerFailed(t *testing.T) {
	r, err := Build(causeRun(func(c *result.Cell) {
		switch c.ID {
		case "goroutine.mix.r500.1": // every request refused: nothing but a fast p99
			c.AchievedRPS, c.OK, c.Errors = 0, 0, c.Requests
			c.Classes[0].OK, c.Classes[0].Errors = 0, c.Requests
			c.Validity = result.Validity{Cause: result.CauseServer, Reasons: []string{"no request was answered successfully in the measured window: all 5000 failed (refused 5000)"}}
		case "thread.mix.r200.1": // an old results file
			c.Validity = result.Validity{Reasons: []string{"Generator-bound: dispatch lag p99 was 25.00 ms."}}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	validity := map[string]string{}
	for _, row := range r.Verdict() {
		validity[row.Model+" "+row.Offered] = row.Validity
	}
	if validity["goroutine 500"] != "invalid: server failed" || validity["thread 200"] != "invalid: generator-bound" || validity["cluster 500"] != "valid" {
		t.Errorf("verdict validity: %v", validity)
	}
	// The failed model lost at 500 req/s, the rate the answer is about.
	a := r.Advice[0]
	if a.Rate != 500 || a.Best != "cluster" || !strings.Contains(a.Text, "goroutine did not keep up: its server failed.") {
		t.Errorf("advice at %g req/s → %q: %s; want cluster at 500, saying goroutine's server failed", a.Rate, a.Best, a.Text)
	}
	if k := r.Knee("goroutine", "mix"); !k.Met || k.Rate != 200 || k.Censored {
		t.Errorf("goroutine's knee %+v; want 200 req/s, not censored (its server failed at 500)", k)
	}
	var failed, generator []string
	for _, d := range r.Diagnoses {
		switch d.Kind {
		case "server-failed":
			failed = append(failed, d.Model+": "+d.Verdict+": "+strings.Join(d.Evidence, "; "))
		case "generator-bound":
			generator = append(generator, strings.Join(d.Evidence, "; "))
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "goroutine: the server failed: goroutine.mix.r500.1: the server failed: no request was answered") {
		t.Errorf("server-failed diagnoses %q", failed)
	}
	if len(generator) != 1 || strings.Contains(generator[0], "goroutine") || !strings.Contains(generator[0], "thread.mix.r200.1") {
		t.Errorf("generator-bound diagnoses %q; want the thread cell only", generator)
	}
	for _, c := range r.Charts {
		for _, s := range c.Sentences {
			if strings.Contains(s, "goroutine") && strings.Contains(s, "generator") {
				t.Errorf("%s: %q calls the failed server generator-bound", c.File, s)
			}
		}
		var labels []string
		for _, e := range c.Legend {
			labels = append(labels, e.Label)
		}
		if slices.Contains(labels, "goroutine (server failed)") && !slices.Contains(labels, "invalid: server failed") {
			t.Errorf("%s: legend %q lacks the server-failed entry", c.File, labels)
		}
	}
}

// TestGeneratorMemoryNote: the cell table shows the generator's memory over
// the window beside the cell's other notes, and nothing for files without it.
func TestGeneratorMemoryNote(t *testing.T) {
	run := causeRun(func(c *result.Cell) {
		if c.ID == "goroutine.mix.r500.1" {
			c.Generator = result.Generator{HeapStartBytes: 2 << 20, HeapEndBytes: 3 << 20, RSSStartBytes: 20 << 20, RSSEndBytes: 22 << 20}
		}
	})
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	if err := r.WriteHTML(&page, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	const want = "load generator memory over the window: live heap 2.0 MiB → 3.0 MiB (×1.50), RSS 20 MiB → 22 MiB (×1.10)"
	if n := strings.Count(page.String(), want); n != 1 {
		t.Errorf("report holds %q %d times; want once (one cell recorded it)", want, n)
	}
}

// TestServerBinaryShown: the report's environment says which binary the Go
// models ran in, and nothing when the run did not record it.
func TestServerBinaryShown(t *testing.T) {
	for _, tc := range []struct{ bin, want string }{
		{"/x/concbench-serve", "concbench-serve: the servers alone (cmd/concbench-serve)"},
		{"/x/concbench", "concbench: the whole concbench binary (no concbench-serve beside it)"},
		{"", ""},
	} {
		run := causeRun(func(*result.Cell) {})
		run.Env.ServerBinary = tc.bin
		r, err := Build(run)
		if err != nil {
			t.Fatal(err)
		}
		var page strings.Builder
		if err := r.WriteHTML(&page, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(page.String(), "Go models ran in"); (tc.want == "") != (got == 0) || (tc.want != "" && !strings.Contains(page.String(), tc.want)) {
			t.Errorf("server binary %q: row shown %d times, want %q", tc.bin, got, tc.want)
		}
	}
}

// TestLowerBoundAndTooFew: a percentile at or above a censored request's
// lower bound is shown as "≥", and one read from too few values (n <
// 10/(1−q)) as "n = 25: too few", in the table and not drawn in the charts.
func TestLowerBoundAndTooFew(t *testing.T) {
	r, err := Build(causeRun(func(c *result.Cell) {
		l := &c.Classes[0].Response
		switch {
		case c.Model == "goroutine" && c.Rate == 500:
			// 5000 values, 60 of them censored from 1600 ms: p99 is a
			// lower bound, p90 is not.
			l.P99, l.P999, l.P9999, l.Max = 1650, 1700, 1700, 1700
			l.Censored, l.CensoredMin = 60, 1600
		case c.Model == "thread" && c.Rate == 200:
			l.Count = 25
			c.Classes[0].Requests, c.Classes[0].OK = 25, 25
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	row := func(model string, rate float64) VerdictRow {
		t.Helper()
		for _, v := range r.Verdict() {
			if v.Model == model && v.Offered == units.Num(rate) {
				return v
			}
		}
		t.Fatalf("no verdict row for %s at %g", model, rate)
		return VerdictRow{}
	}
	for _, tc := range []struct {
		got, want string
	}{
		{row("goroutine", 500).VictimP50, "0.300"},
		{row("goroutine", 500).VictimP99, "≥ 1650"},
		{row("goroutine", 500).VictimP999, "n = 5000: too few"},
		{row("thread", 200).VictimP50, "0.300"},
		{row("thread", 200).VictimP99, "n = 25: too few"},
		{row("cluster", 200).VictimP99, "1.90"},
	} {
		if tc.got != tc.want {
			t.Errorf("verdict cell %q; want %q", tc.got, tc.want)
		}
	}
	var marks, threadPoints int
	for _, ch := range r.Charts {
		if ch.Family != "percentiles" {
			continue
		}
		for _, p := range ch.Panels {
			for _, m := range p.Marks {
				if m.Label == "≥" && m.Key == "goroutine" {
					marks++
				}
			}
			for _, s := range p.Series {
				if s.Key == "thread" {
					threadPoints += len(s.Points)
				}
			}
		}
	}
	// goroutine at its reference rate (500): p99 is a lower bound; thread
	// (2000 values at 200, 5000 at 500) has p50, p90 and p99 at 500.
	if marks != 1 {
		t.Errorf("%d \"≥\" marks on goroutine's percentile chart; want 1 (p99)", marks)
	}
	if threadPoints != 3 {
		t.Errorf("%d points of thread on the percentile chart; want 3 (p50, p90, p99 of 5000 values)", threadPoints)
	}
}

// TestAllFailedClassNotRecommended: a model whose cheap requests are the
// fastest but whose every heavy request failed did not keep up, and is not
// the model the advice names.
func TestAllFailedClassNotRecommended(t *testing.T) {
	r, err := Build(causeRun(func(c *result.Cell) {
		n := c.Classes[0].Requests / 100
		heavy := result.Class{Name: "heavy", Target: "/heavy", Weight: 1, Heavy: true, Requests: n, OK: n,
			Response: result.Latency{Count: n, P50: 40, P90: 45, P99: 50, Max: 50}}
		if c.Model == "goroutine" {
			f := heavy.Response
			heavy.OK, heavy.Errors, heavy.ErrorsByKind = 0, n, map[string]int64{"status_5xx": n}
			heavy.Response, heavy.Failed = result.Latency{}, &f
			c.OK -= n
			c.Errors += n
		}
		c.Classes = append(c.Classes, heavy)
	}))
	if err != nil {
		t.Fatal(err)
	}
	g := r.Group("goroutine", "mix", 500)
	if g.KeptUp() || g.LaggingClass() != "heavy" {
		t.Errorf("goroutine: kept up %t, lagging class %q; want false, heavy (every heavy request failed)", g.KeptUp(), g.LaggingClass())
	}
	if !r.Group("cluster", "mix", 500).KeptUp() {
		t.Errorf("cluster did not keep up; want it to")
	}
	for _, a := range r.Advice {
		if a.Best == "goroutine" {
			t.Errorf("advice at %g names goroutine: %s", a.Rate, a.Text)
		}
	}
}

// TestBoundedClassFailing: a class meant to fail fast (a regex cut off by
// its timeout) fails on every model; failures within its timeout do not stop
// a model from keeping up, nor the advice from naming one, while slow
// failures of the same class (not the timeout's doing) still do.
func TestBoundedClassFailing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failedMs float64
		kept     bool
	}{
		{"cut off at its timeout", 51, true},
		{"failing slowly", 4000, false},
	} {
		r, err := Build(causeRun(func(c *result.Cell) {
			n := c.Classes[0].Requests / 100
			f := result.Latency{Count: n, P50: tc.failedMs, P90: tc.failedMs, P99: tc.failedMs, Max: tc.failedMs}
			c.Classes = append(c.Classes, result.Class{Name: "cut", Target: "/regex?n=24&engine=backtrack&timeout_ms=50", Weight: 1,
				Heavy: true, Bounded: true, Requests: n, Errors: n, ErrorsByKind: map[string]int64{"status_5xx": n}, Failed: &f})
			c.Requests += n
			c.Errors += n
		}))
		if err != nil {
			t.Fatal(err)
		}
		g := r.Group("cluster", "mix", 500)
		if g.KeptUp() != tc.kept || (g.LaggingClass() == "") != tc.kept {
			t.Errorf("%s: cluster kept up %t, lagging class %q; want kept up %t", tc.name, g.KeptUp(), g.LaggingClass(), tc.kept)
		}
		named := false
		for _, a := range r.Advice {
			named = named || a.Best != ""
		}
		if named != tc.kept {
			t.Errorf("%s: advice names a model: %t; want %t (%+v)", tc.name, named, tc.kept, r.Advice)
		}
	}
}

// TestPooledReps: the headline figures of repetitions are those of their
// pooled histograms — the p99 of every value, not the median of p99s, and
// the max of every value, not the median of maxima — with the repetitions'
// spread beside them; and two models whose repetitions overlap tie.
func TestPooledReps(t *testing.T) {
	all := hdr.New(1, 3_600_000_000, 3)
	reps := make([]*hdr.Histogram, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range reps {
		reps[i] = hdr.New(1, 3_600_000_000, 3)
		for range 5000 {
			// Rep i is slower than rep i−1: 1 ms, with a tail that grows.
			v := int64(1000 + rng.ExpFloat64()*float64(200*(i+1)))
			_ = reps[i].RecordValue(v)
			_ = all.RecordValue(v)
		}
	}
	run := causeRun(func(c *result.Cell) {})
	var cells []result.Cell
	for _, c := range run.Cells {
		if c.Rate != 500 {
			continue
		}
		for i, h := range reps {
			c := c
			c.Rep, c.ID = i+1, c.ID+"."+itoa(i)
			l := result.Summarize(h)
			c.Classes = []result.Class{{Name: "plain", Target: "/plain", Weight: 1, Requests: l.Count, OK: l.Count, Response: l, Service: l}}
			c.Requests, c.OK = l.Count, l.Count
			cells = append(cells, c)
		}
	}
	run.Cells, run.Plan.Reps = cells, 3
	run.Plan.Scenarios[0].Rates = []float64{500}
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	g := r.Group("goroutine", "mix", 500)
	want := result.Summarize(all)
	p := g.Class("plain").Response
	var p99s []float64
	for _, h := range reps {
		p99s = append(p99s, result.Summarize(h).P99)
	}
	if !p.P99.Pooled || p.P99.Med != want.P99 || p.Max.Med != want.Max || p.P99.Min != slices.Min(p99s) || p.P99.Max != slices.Max(p99s) {
		t.Errorf("pooled p99 %g (pooled %t), max %g, spread %g–%g; want %g (the merged histogram's, not the median %g), max %g, spread %g–%g",
			p.P99.Med, p.P99.Pooled, p.Max.Med, p.P99.Min, p.P99.Max, want.P99, statOf(p99s).Med, want.Max, slices.Min(p99s), slices.Max(p99s))
	}
	if g.Victim.P99.Med != want.P99 {
		t.Errorf("victim p99 %g; want the pooled %g", g.Victim.P99.Med, want.P99)
	}
	// Every model has the same three repetitions: their intervals overlap.
	if a := r.Advice[0]; len(a.Tie) == 0 || !strings.HasPrefix(a.Pick(), "tie: ") {
		t.Errorf("advice %q (ties %v); want a tie", a.Pick(), a.Tie)
	}
}

// TestTied: intervals decide when both figures have repetitions; a single
// repetition falls back on the TieWithin band.
func TestTied(t *testing.T) {
	nan := math.NaN()
	one := func(v float64) Stat { return Stat{Med: v, Min: v, Max: v, N: 1, CILo: nan, CIHi: nan} }
	reps := func(lo, med, hi float64) Stat { return Stat{Med: med, Min: lo, Max: hi, N: 3, CILo: nan, CIHi: nan} }
	for _, tc := range []struct {
		a, b Stat
		want bool
	}{
		{reps(9, 10, 11), reps(10.5, 12, 13), true},    // overlap
		{reps(9, 10, 10.2), reps(10.5, 11, 12), false}, // apart, though within 10 %
		{one(10), one(10.5), true},                     // single repetitions: within 10 %
		{one(10), one(12), false},
	} {
		if got := tied(tc.a, tc.b); got != tc.want {
			t.Errorf("tied(%+v, %+v) = %t; want %t", tc.a, tc.b, got, tc.want)
		}
	}
}
