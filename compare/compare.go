// Package compare tells whether a change made a server model slower: it reads
// two sides of benchmark results (each one or more runs, whose repetitions pool
// together), compares every figure of every common cell with
// golang.org/x/perf/benchmath (medians, their confidence intervals and the
// Mann-Whitney U test, as benchstat does), and flags the significant changes
// that go beyond --fail-on thresholds. It also exports results in the Go
// benchmark format so that the stock benchstat can read them (WriteBench).
//
// Compare builds one Report; WriteText, WriteMarkdown and Verdict render it.
package compare

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/perf/benchmath"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

// Confidence is the level of the confidence intervals around the medians.
const Confidence = 0.95

// InputError reports input compare cannot use: a missing or unreadable
// results file, another schema, nothing in common to compare, a malformed
// threshold. The command exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// RegressionError is Report.Err's error when a comparison found significant
// regressions beyond the thresholds. The command exits 1 on it.
type RegressionError struct{ Regressions []Regression }

func (e *RegressionError) Error() string {
	return regressionSummary(e.Regressions)
}

// ExitCode maps an error of this package to the command's exit code: 0 for
// nil, 1 for a *RegressionError (and any other failure), 2 for an *InputError.
func ExitCode(err error) int {
	var ie *InputError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ie):
		return 2
	}
	return 1
}

// CellKey identifies a cell across runs: what was offered to which model.
type CellKey struct {
	Model    string
	Scenario string
	Rate     float64 // offered requests per second
}

func (k CellKey) String() string {
	return fmt.Sprintf("%s/%s@%s", k.Model, k.Scenario, units.Plain(k.Rate))
}

// Side is one side of a comparison: the runs read from its paths and their
// samples, pooled over every run and repetition. Invalid cells (the generator,
// not the server, limited them) are left out and counted in Dropped.
type Side struct {
	Paths []string
	Runs  []*result.Run
	// Dropped lists the IDs of the invalid cells left out.
	Dropped []string

	cells map[CellKey]*cellSamples
	order []CellKey // first-seen order
}

type classMeta struct {
	name  string
	heavy bool
}

type sampleKey struct {
	class string // "" for cell-level figures
	fig   Figure
}

type cellSamples struct {
	reps    int // valid cell repetitions pooled here
	classes []classMeta
	values  map[sampleKey][]float64
}

// Load reads a side from results directories or results.json files. Errors
// are *InputError.
func Load(paths []string) (*Side, error) {
	if len(paths) == 0 {
		return nil, inputErrorf("no results given")
	}
	seen := map[string]bool{}
	rs := make([]*result.Run, 0, len(paths))
	for _, p := range paths {
		if p == "" {
			return nil, inputErrorf("empty results path")
		}
		abs, err := filepath.Abs(p)
		if err == nil {
			if seen[abs] {
				return nil, inputErrorf("%s given twice (its repetitions would count double)", p)
			}
			seen[abs] = true
		}
		r, err := result.Load(p)
		if err != nil {
			return nil, &InputError{err}
		}
		rs = append(rs, r)
	}
	return NewSide(paths, rs), nil
}

// NewSide builds a side from runs already read; paths only label it.
func NewSide(paths []string, rs []*result.Run) *Side {
	s := &Side{Paths: paths, Runs: rs, cells: map[CellKey]*cellSamples{}}
	for _, r := range rs {
		for i := range r.Cells {
			s.add(&r.Cells[i])
		}
	}
	return s
}

func (s *Side) add(c *result.Cell) {
	if !c.Validity.Valid {
		s.Dropped = append(s.Dropped, c.ID)
		return
	}
	k := CellKey{c.Model, c.Scenario, c.Rate}
	cs := s.cells[k]
	if cs == nil {
		cs = &cellSamples{values: map[sampleKey][]float64{}}
		s.cells[k] = cs
		s.order = append(s.order, k)
	}
	cs.reps++
	for _, f := range Figures {
		if f.PerClass() {
			continue
		}
		if v, ok := f.cellValue(c); ok {
			cs.values[sampleKey{"", f}] = append(cs.values[sampleKey{"", f}], v)
		}
	}
	for j := range c.Classes {
		cl := &c.Classes[j]
		if !slices.ContainsFunc(cs.classes, func(m classMeta) bool { return m.name == cl.Name }) {
			cs.classes = append(cs.classes, classMeta{cl.Name, cl.Heavy})
		}
		for _, f := range Figures {
			if !f.PerClass() {
				continue
			}
			if v, ok := f.classValue(cl); ok {
				cs.values[sampleKey{cl.Name, f}] = append(cs.values[sampleKey{cl.Name, f}], v)
			}
		}
	}
}

// Options configure Compare. The zero value compares at DefaultAlpha with no
// thresholds (report only).
type Options struct {
	// Alpha is the significance level, in (0, 1); 0 means DefaultAlpha.
	Alpha float64
	// Thresholds turn significant changes into regressions; see ParseThresholds.
	Thresholds []Threshold
}

// Report is the whole comparison; every rendering reads it.
type Report struct {
	Old, New   SideSummary
	Alpha      float64
	Thresholds []Threshold
	// Tables holds one table per model × scenario × figure, in the old side's order.
	Tables []Table
	// Regressions are the significant changes beyond a threshold, in table order.
	Regressions []Regression
	// Notes are one-line remarks on what could not be compared or may mislead
	// (cells or classes on one side only, different machines).
	Notes []string
	// Rows is the number of comparisons; Changed how many are significant;
	// Undetectable how many had too few samples to ever be significant.
	Rows, Changed, Undetectable int
	// OneSided counts the cells measured validly on one side only (see Notes).
	OneSided int
}

// SideSummary says what a side is made of.
type SideSummary struct {
	Label   string   // "old" or "new"
	Paths   []string // as given
	Runs    int
	Plans   []string // distinct plan names
	Commits []string // distinct Environment.Commit values ("" when unknown)
	// MinReps and MaxReps bound the valid repetitions per compared cell.
	MinReps, MaxReps int
	// Dropped counts the invalid cells left out.
	Dropped     int
	Interrupted int // runs stopped before every cell ran
	Machines    []string
}

// Table compares one figure of one model and scenario, one row per rate (and
// class, for the response-time percentiles).
type Table struct {
	Model, Scenario string
	Figure          Figure
	Rows            []Row
}

// Row is one comparison: a figure of a cell (and class) on both sides.
type Row struct {
	Rate  float64
	Class string // "" for cell-level figures
	Heavy bool   // the class doing the expensive work; the others are its victims
	// Old and New are the medians with their confidence intervals.
	Old, New benchmath.Summary
	// Cmp is the Mann-Whitney U test of the two samples (P, N1, N2, Alpha).
	Cmp benchmath.Comparison
	// ChangePct is (new/old − 1) × 100 of the medians; NaN when the old median is 0.
	ChangePct float64
	// Significant is Cmp.P < Alpha.
	Significant bool
	// Detectable is false when the samples are too small for the U test ever
	// to give p < Alpha, whatever the values (e.g. 3 against 3, or 6 against 2).
	Detectable bool
	// Broken lists the thresholds this row's change goes beyond (only when Significant).
	Broken []Threshold
	// Warnings are benchmath's, e.g. "need >= 6 samples for confidence interval".
	Warnings []string
}

// Regression is a significant change beyond a threshold.
type Regression struct {
	Model, Scenario string
	Rate            float64
	Class           string
	Figure          Figure
	ChangePct       float64
	Cmp             benchmath.Comparison
	Threshold       Threshold
}

func (g Regression) String() string {
	where := g.Model + "/" + g.Scenario + " " + units.Plain(g.Rate) + "/s"
	if g.Class != "" {
		where += " " + g.Class
	}
	return fmt.Sprintf("%s %s %+.2f%% (%s, limit %s)", where, g.Figure, g.ChangePct, g.Cmp, g.Threshold)
}

// Failed reports whether the comparison found a significant regression beyond a threshold.
func (r *Report) Failed() bool { return len(r.Regressions) > 0 }

// Err returns a *RegressionError naming every regression, or nil.
func (r *Report) Err() error {
	if !r.Failed() {
		return nil
	}
	return &RegressionError{r.Regressions}
}

// Compare compares every figure of the cells both sides (old and nu, the new
// one) measured validly. Errors are *InputError: nothing in common, a bad
// alpha, or thresholds set while no comparison has enough repetitions to ever
// be significant (a gate that cannot fail).
func Compare(old, nu *Side, opt Options) (*Report, error) {
	alpha := opt.Alpha
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, inputErrorf("alpha %v out of range (0, 1)", alpha)
	}
	var common []CellKey
	var onlyOld, onlyNew []string
	for _, k := range old.order {
		if _, ok := nu.cells[k]; ok {
			common = append(common, k)
		} else {
			onlyOld = append(onlyOld, k.String())
		}
	}
	for _, k := range nu.order {
		if _, ok := old.cells[k]; !ok {
			onlyNew = append(onlyNew, k.String())
		}
	}
	if len(common) == 0 {
		return nil, inputErrorf("no cell was measured validly on both sides: old has %s; new has %s",
			listSome(keyStrings(old.order), old.Dropped), listSome(keyStrings(nu.order), nu.Dropped))
	}

	rep := &Report{
		Old:        summarize("old", old, common),
		New:        summarize("new", nu, common),
		Alpha:      alpha,
		Thresholds: opt.Thresholds,
	}
	rep.OneSided = len(onlyOld) + len(onlyNew)
	if len(onlyOld) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only in old, not compared: %s", strings.Join(onlyOld, ", ")))
	}
	if len(onlyNew) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only in new, not compared: %s", strings.Join(onlyNew, ", ")))
	}
	if !slices.Equal(rep.Old.Plans, rep.New.Plans) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the sides ran different plans (old: %s; new: %s): check that durations and mixes match",
			strings.Join(rep.Old.Plans, ", "), strings.Join(rep.New.Plans, ", ")))
	}
	if !slices.Equal(rep.Old.Machines, rep.New.Machines) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the sides were measured on different machines (old: %s; new: %s): a difference may be the machine's",
			strings.Join(rep.Old.Machines, " + "), strings.Join(rep.New.Machines, " + ")))
	}

	thresholds := &benchmath.Thresholds{CompareAlpha: alpha}
	// Group the common cells by model and scenario, keeping first-seen order.
	type group struct {
		model, scenario string
		cells           []CellKey
	}
	var groups []*group
	for _, k := range common {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.model == k.Model && g.scenario == k.Scenario })
		if i < 0 {
			groups = append(groups, &group{model: k.Model, scenario: k.Scenario})
			i = len(groups) - 1
		}
		groups[i].cells = append(groups[i].cells, k)
	}
	var oneSidedClasses []string
	for _, k := range common {
		oc, nc := old.cells[k], nu.cells[k]
		for _, pair := range [][2][]classMeta{{oc.classes, nc.classes}, {nc.classes, oc.classes}} {
			for _, cm := range pair[0] {
				if !slices.ContainsFunc(pair[1], func(m classMeta) bool { return m.name == cm.name }) {
					oneSidedClasses = append(oneSidedClasses, k.String()+" "+cm.name)
				}
			}
		}
	}
	for _, g := range groups {
		sort.SliceStable(g.cells, func(i, j int) bool { return g.cells[i].Rate < g.cells[j].Rate })
		for _, f := range Figures {
			t := Table{Model: g.model, Scenario: g.scenario, Figure: f}
			for _, k := range g.cells {
				oc, nc := old.cells[k], nu.cells[k]
				classes := []classMeta{{}}
				if f.PerClass() {
					classes = oc.classes
				}
				for _, cm := range classes {
					ov, nv := oc.values[sampleKey{cm.name, f}], nc.values[sampleKey{cm.name, f}]
					if len(ov) == 0 || len(nv) == 0 {
						continue
					}
					row := compareRow(ov, nv, thresholds, opt.Thresholds, f)
					row.Rate, row.Class, row.Heavy = k.Rate, cm.name, cm.heavy
					t.Rows = append(t.Rows, row)
					rep.Rows++
					if row.Significant {
						rep.Changed++
					} else if !row.Detectable {
						rep.Undetectable++
					}
					for _, th := range row.Broken {
						rep.Regressions = append(rep.Regressions, Regression{
							Model: k.Model, Scenario: k.Scenario, Rate: k.Rate, Class: cm.name,
							Figure: f, ChangePct: row.ChangePct, Cmp: row.Cmp, Threshold: th,
						})
					}
				}
			}
			if len(t.Rows) > 0 {
				rep.Tables = append(rep.Tables, t)
			}
		}
	}
	if len(oneSidedClasses) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("classes measured on one side only, not compared: %s", strings.Join(oneSidedClasses, ", ")))
	}
	if len(opt.Thresholds) > 0 && rep.Undetectable == rep.Rows {
		// A gate that cannot fail is worse than none: say so instead of passing.
		r0 := rep.Tables[0].Rows[0]
		return nil, inputErrorf("too few repetitions for any comparison to be significant (old %s, new %s per cell): "+
			"the smallest p-value %d+%d samples can give is %.3f, not below alpha %v; use --fail-on '' to report anyway",
			rep.Old.reps(), rep.New.reps(), r0.Cmp.N1, r0.Cmp.N2, minP(r0.Cmp.N1, r0.Cmp.N2, thresholds), alpha)
	}
	return rep, nil
}

func compareRow(ov, nv []float64, bt *benchmath.Thresholds, ths []Threshold, f Figure) Row {
	// NewSample sorts in place: give it copies, the side is reused.
	so := benchmath.NewSample(slices.Clone(ov), bt)
	sn := benchmath.NewSample(slices.Clone(nv), bt)
	row := Row{
		Old: benchmath.AssumeNothing.Summary(so, Confidence),
		New: benchmath.AssumeNothing.Summary(sn, Confidence),
		Cmp: benchmath.AssumeNothing.Compare(so, sn),
	}
	row.Significant = row.Cmp.P < row.Cmp.Alpha
	row.Detectable = minP(len(ov), len(nv), bt) < bt.CompareAlpha
	row.ChangePct = math.NaN()
	switch {
	case row.Old.Center == row.New.Center:
		row.ChangePct = 0
	case row.Old.Center != 0:
		row.ChangePct = (row.New.Center/row.Old.Center - 1) * 100
	}
	if row.Significant {
		for _, th := range ths {
			if th.Figure == f && th.Broken(row.ChangePct) {
				row.Broken = append(row.Broken, th)
			}
		}
	}
	for _, ws := range [][]error{row.Old.Warnings, row.New.Warnings, row.Cmp.Warnings} {
		for _, w := range ws {
			if !slices.Contains(row.Warnings, w.Error()) {
				row.Warnings = append(row.Warnings, w.Error())
			}
		}
	}
	return row
}

// minP is the smallest p-value the U test can give two samples of n1 and n2
// values: the one of two samples that do not overlap at all, as benchmath
// computes it. (benchmath's own "need >= 4 samples" warning only covers
// samples that are both small; 6 against 2 cannot reach 0.05 either.)
func minP(n1, n2 int, bt *benchmath.Thresholds) float64 {
	k := [2]int{n1, n2}
	if p, ok := minPCache.Load(k); ok {
		return p.(float64)
	}
	x, y := make([]float64, n1), make([]float64, n2)
	for i := range x {
		x[i] = float64(i)
	}
	for i := range y {
		y[i] = float64(n1 + i)
	}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(x, bt), benchmath.NewSample(y, bt)).P
	minPCache.Store(k, p)
	return p
}

var minPCache sync.Map // [2]int{n1, n2} → float64

func summarize(label string, s *Side, common []CellKey) SideSummary {
	sum := SideSummary{Label: label, Paths: s.Paths, Runs: len(s.Runs), Dropped: len(s.Dropped)}
	for _, r := range s.Runs {
		addUnique(&sum.Plans, r.Plan.Name)
		addUnique(&sum.Commits, r.Env.Commit)
		addUnique(&sum.Machines, machine(r.Env))
		if r.Interrupted {
			sum.Interrupted++
		}
	}
	for i, k := range common {
		n := s.cells[k].reps
		if i == 0 || n < sum.MinReps {
			sum.MinReps = n
		}
		if n > sum.MaxReps {
			sum.MaxReps = n
		}
	}
	return sum
}

func machine(e result.Environment) string {
	m := e.CPUModel
	if m == "" {
		m = "unknown CPU"
	}
	m += fmt.Sprintf(", %d cores", e.Cores)
	if e.Hostname != "" {
		m = e.Hostname + ": " + m
	}
	return m
}

func addUnique(list *[]string, s string) {
	if !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

func keyStrings(ks []CellKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

// listSome names up to three cells, and says how many invalid ones were dropped.
func listSome(cells, dropped []string) string {
	var s string
	switch {
	case len(cells) == 0:
		s = "no valid cell"
	case len(cells) <= 3:
		s = strings.Join(cells, ", ")
	default:
		s = fmt.Sprintf("%s and %d more", strings.Join(cells[:3], ", "), len(cells)-3)
	}
	if len(dropped) > 0 {
		s += fmt.Sprintf(" (%d invalid dropped)", len(dropped))
	}
	return s
}
