package reports

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

//go:embed fidelity.html.tmpl
var fidelityHTMLSource string

// Tolerances of the fidelity comparison: a Go model "matches" the real system
// it stands beside (catalog.Entry.Beside) on a figure when the two are within
// them (README, "Fidelity").
const (
	// FidelityLatencyFactor: a latency (cheap p99, heavy p50: a heavy class
	// has tens of requests, too few for a p99) matches within this
	// factor either way, or when both are under FidelityLatencyFloorMs (below
	// it, the generator's ~1 ms timer grain and the machine's noise decide).
	FidelityLatencyFactor  = 2.0
	FidelityLatencyFloorMs = 5.0
	// FidelityResourceFactor: the growth of RSS under load (peak minus the
	// idle reading before the cell's first request) and the threads that ran
	// over the window match within this factor either way, or when both are
	// under FidelityRSSFloor and FidelityThreadFloor. Growth, not the peak:
	// what a runtime holds before any request is not the concurrency model's
	// cost (idle, node-loop holds ~50 MiB of V8 to eventloop's ~20 MiB), what
	// load adds is. The threads that ran, not their growth or peak: Apache's
	// worker MPM creates its 256 threads at start, where thread starts one
	// per request in flight (growth +0 against +219–231 in io-wait, peaks
	// ×28 apart in cpu-mix), and either way a thread is tied up by each
	// request in flight. The peaks (and idle threads) are shown beside.
	FidelityResourceFactor = 2.0
	// FidelityRSSFloor: growths both under 32 MiB match: one V8 young
	// generation at its largest. Node 20's new space is two semi-spaces of
	// up to 16 MiB each, and it grows from 1 MiB to 32 MiB
	// (v8.getHeapSpaceStatistics) under allocation churn, whatever the
	// requests in flight; node-loop's RSS grew 46 → 71 → 85 → 86 MiB over
	// three loads of io-wait in a row where eventloop's grew +4, +1, +0.
	// Below it the growth is the garbage collector's sizing, not the
	// concurrency model's cost per request. (It was 16 MiB, on the belief
	// that the young generation tops out there.)
	FidelityRSSFloor = 32 << 20
	// FidelityThreadFloor: both under 16 threads that ran match: a
	// runtime's own threads run beside the work (Go up to GOMAXPROCS of them
	// plus sysmon: offload, at GOMAXPROCS 6, ran 9–13 in cells whose pool was
	// idle; V8 4 platform threads beside the loop; a cluster 2–3 processes of
	// them: 13–16), where thread-per-request runs one per request in flight
	// (thread 243, Apache 257 with ~220 in flight).
	FidelityThreadFloor = 16
	// FidelityErrorFactor and FidelityErrorFloor: the error share (503s of a
	// full queue included) matches within this factor, or when both are
	// under the floor.
	FidelityErrorFactor = 2.0
	FidelityErrorFloor  = 0.01
	// BlockedVictimShare decides the diagnosis of a scenario with cheap and
	// heavy classes, the same way for both sides of a pair (Apache and the
	// thread model have no event loop to measure): the cheap requests were
	// blocked when their p99 reached this share of the heavy requests' p50,
	// that is they waited behind heavy work.
	BlockedVictimShare = 0.5
)

// The figures a pair is compared on, in the order rows show them.
const (
	FigureCheapP99  = "cheap p99"
	FigureHeavyP50  = "heavy p50"
	FigureDiagnosis = "diagnosis"
	FigurePeakRSS   = "RSS growth"
	FigureThreads   = "threads that ran"
	FigureErrors    = "errors"
)

// The verdicts of a fidelity comparison.
const (
	Matches     = "matches"
	Differs     = "differs"
	NotMeasured = "not measured"
)

// Fidelity compares each Go model of the run with the reference system it
// stands beside, scenario by scenario and figure by figure.
type Fidelity struct {
	// Pairs are "eventloop ↔ node-loop", in the plan's order.
	Pairs []string
	Rows  []FidelityRow
	// Matched counts the rows that match; NotMeasured those that could not
	// be compared (a reference not installed, a cell generator-bound);
	// ByFloor the matches a floor alone decided (FidelityRow.ByFloor).
	Matched, NotMeasured, ByFloor int
	// Calibrations are the run's (result.Run.Calibrations), for the table
	// of what each server was sent.
	Calibrations []result.Calibration
}

// FidelityRow is one figure of one pair in one scenario, formatted.
type FidelityRow struct {
	Pair, Model, Reference, Scenario, Figure string
	// ModelValue and RefValue are the figures with their unit; Ratio is
	// reference ÷ model ("×1.4"), or "–".
	ModelValue, RefValue, Ratio string
	// Verdict is Matches, Differs or NotMeasured; Reason says why (for
	// Differs and NotMeasured) or how (for Matches, when not obvious).
	Verdict, Reason string
	// ByFloor is set on a match decided by a floor alone: both figures
	// under it, their ratio beyond the factor (node-pool's RSS +24 MiB
	// against offload's +5.6 MiB, both under 32 MiB).
	ByFloor bool
}

// Line is the last line of a run's stdout: "fidelity: N of M comparisons
// match", with how many could not be measured.
func (f *Fidelity) Line() string {
	s := fmt.Sprintf("fidelity: %d of %d comparisons match", f.Matched, len(f.Rows))
	var notes []string
	if f.ByFloor > 0 {
		notes = append(notes, fmt.Sprintf("%d of them by a floor alone: both under it, more than the factor apart", f.ByFloor))
	}
	if f.NotMeasured > 0 {
		notes = append(notes, fmt.Sprintf("%d not measured", f.NotMeasured))
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	return s
}

// FidelityRules states the tolerances in one sentence.
func FidelityRules() string {
	return fmt.Sprintf("A figure matches when cheap p99 and heavy p50 are within ×%s (or both under %s), the diagnosis is the same "+
		"(blocked: cheap p99 ≥ %s of heavy p50), the growth of RSS under load (peak minus the idle reading, taken once the started server had gone quiet: resources.idle_wait_sec) and the threads that ran over the window (their context switches rose: resources.active_threads) are within ×%s (or both under %s and %d threads), and errors within ×%s (or both under %s); "+
		"ratio = reference ÷ Go model.",
		units.Num(FidelityLatencyFactor), floorMs(), units.Share(BlockedVictimShare),
		units.Num(FidelityResourceFactor), units.MiB(FidelityRSSFloor), FidelityThreadFloor, units.Num(FidelityErrorFactor), floorPct())
}

// floorMs and floorPct are the floors as written: "5 ms", "1 %".
func floorMs() string  { return units.Num(FidelityLatencyFloorMs) + " ms" }
func floorPct() string { return units.Num(100*FidelityErrorFloor) + " %" }

// buildFidelity returns the run's fidelity comparison, or nil when the plan
// names no Go model together with its reference.
func (r *Report) buildFidelity() *Fidelity {
	run := r.Run
	skipped := map[string]string{}
	for _, s := range run.Skipped {
		skipped[s.Model] = s.Reason
	}
	f := &Fidelity{Calibrations: run.Calibrations}
	for _, ref := range run.Plan.Models {
		e, ok := catalog.Lookup(ref)
		if !ok || e.Kind != catalog.Reference || !slices.Contains(run.Plan.Models, e.Beside) {
			continue
		}
		model := e.Beside
		pair := model + " ↔ " + ref
		f.Pairs = append(f.Pairs, pair)
		for _, ps := range run.Plan.Scenarios {
			if !ps.RunsModel(model) || !ps.RunsModel(ref) {
				continue
			}
			s := r.Scenario(ps.Name)
			if s == nil { // no cell of it finished
				f.add(r.notMeasured(pair, model, ref, ps.Name, "no cell of this scenario finished")...)
				continue
			}
			for _, rate := range s.Rates {
				name := s.Name
				if len(s.Rates) > 1 {
					name = scenarioAt(s.Name, rate)
				}
				g, gr := r.Group(model, s.Name, rate), r.Group(ref, s.Name, rate)
				switch {
				case skipped[ref] != "":
					f.add(r.notMeasured(pair, model, ref, name, ref+" was not run: "+skipped[ref])...)
				case gr == nil || g == nil:
					f.add(r.notMeasured(pair, model, ref, name, "no cell of "+missing(model, g, ref, gr))...)
				case notMeasurable(g) || notMeasurable(gr):
					// The figures are shown, as measured, for what they
					// are worth; they are not counted either way.
					why := "the load generator limited every repetition of " + missing(model, boolGroup(notMeasurable(g)), ref, boolGroup(notMeasurable(gr)))
					rows := compareGroups(pair, name, g, gr)
					for i := range rows {
						asMeasured := rows[i].Verdict
						if rows[i].Verdict != Matches && rows[i].Reason != "" {
							asMeasured += ", " + rows[i].Reason
						}
						rows[i].Verdict, rows[i].Reason, rows[i].ByFloor = NotMeasured, why+" (as measured: "+asMeasured+")", false
					}
					f.add(rows...)
				default:
					f.add(compareGroups(pair, name, g, gr)...)
				}
			}
		}
	}
	if len(f.Pairs) == 0 {
		return nil
	}
	return f
}

func (f *Fidelity) add(rows ...FidelityRow) {
	for _, row := range rows {
		switch row.Verdict {
		case Matches:
			f.Matched++
			if row.ByFloor {
				f.ByFloor++
			}
		case NotMeasured:
			f.NotMeasured++
		}
		f.Rows = append(f.Rows, row)
	}
}

// notMeasurable: every repetition was generator-bound. (A server that failed
// was measured: that is a finding, compared like the others.)
func notMeasurable(g *Group) bool { return g.Invalid && !g.ServerFailed() }

// boolGroup turns a "lacks" flag into the *Group missing takes.
func boolGroup(lacks bool) *Group {
	if lacks {
		return nil
	}
	return &Group{}
}

// missing names which of the two lacks a group: "node-loop", "eventloop and node-loop".
func missing(model string, g *Group, ref string, gr *Group) string {
	var who []string
	if g == nil {
		who = append(who, model)
	}
	if gr == nil {
		who = append(who, ref)
	}
	return join(who)
}

// notMeasured is every figure of a pair in one scenario, not measured.
func (r *Report) notMeasured(pair, model, ref, scenario, why string) []FidelityRow {
	var rows []FidelityRow
	for _, fig := range []string{FigureCheapP99, FigureHeavyP50, FigureDiagnosis, FigurePeakRSS, FigureThreads, FigureErrors} {
		if !r.scenarioHas(scenario, fig) {
			continue
		}
		rows = append(rows, FidelityRow{Pair: pair, Model: model, Reference: ref, Scenario: scenario, Figure: fig,
			ModelValue: "–", RefValue: "–", Ratio: "–", Verdict: NotMeasured, Reason: why})
	}
	return rows
}

// scenarioHas reports whether a scenario's mix has the classes a figure
// needs (heavy p99 and the diagnosis need a heavy class and a cheap one).
func (r *Report) scenarioHas(scenario, fig string) bool {
	if fig != FigureHeavyP50 && fig != FigureDiagnosis {
		return true
	}
	name, _, _ := strings.Cut(scenario, " at ")
	var cheap, heavy bool
	for _, ps := range r.Run.Plan.Scenarios {
		if ps.Name == name {
			for _, c := range ps.Mix {
				cheap = cheap || !c.Heavy
				heavy = heavy || c.Heavy
			}
		}
	}
	return heavy && (cheap || fig == FigureHeavyP50)
}

// compareGroups compares one pair in one scenario, figure by figure.
func compareGroups(pair, scenario string, g, gr *Group) []FidelityRow {
	row := func(fig string) FidelityRow {
		return FidelityRow{Pair: pair, Model: g.Model, Reference: gr.Model, Scenario: scenario, Figure: fig, Ratio: "–"}
	}
	var rows []FidelityRow
	latency := func(fig string, a, b Stat) {
		x := row(fig)
		x.ModelValue, x.RefValue = statMs(a), statMs(b)
		switch {
		case !a.OK() || !b.OK():
			x.Verdict, x.Reason = NotMeasured, "no answer of this class in "+missing(g.Model, boolGroup(!a.OK()), gr.Model, boolGroup(!b.OK()))
		case a.Few || b.Few:
			x.Verdict, x.Reason = NotMeasured, "too few answers for this quantile in "+missing(g.Model, boolGroup(a.Few), gr.Model, boolGroup(b.Few))
		default:
			x.judge(a.Med, b.Med, FidelityLatencyFloorMs, FidelityLatencyFactor, "both under "+floorMs())
		}
		rows = append(rows, x)
	}
	hasCheap, hasHeavy := len(g.VictimNames) > 0, len(g.HeavyNames) > 0
	if hasCheap {
		latency(FigureCheapP99, g.Victim.P99, gr.Victim.P99)
	}
	if hasHeavy {
		latency(FigureHeavyP50, g.Heavy.P50, gr.Heavy.P50)
	}
	if hasCheap && hasHeavy {
		x := row(FigureDiagnosis)
		ba, whyA := blocked(g)
		bb, whyB := blocked(gr)
		x.ModelValue, x.RefValue = blockedText(ba), blockedText(bb)
		switch {
		case whyA == "" || whyB == "":
			x.Verdict, x.Reason = NotMeasured, "too few cheap or heavy answers to judge by"
		case ba == bb:
			x.Verdict, x.Reason = Matches, g.Model+": "+whyA+"; "+gr.Model+": "+whyB
		default:
			x.Verdict, x.Reason = Differs, g.Model+": "+whyA+"; "+gr.Model+": "+whyB
		}
		rows = append(rows, x)
	}
	// RSS growth, shown as "+growth (peak P)".
	mib := func(v float64) string { return units.MiB(v) }
	m := row(FigurePeakRSS)
	showRSS := func(grow, peak Stat) string {
		if !grow.OK() {
			return statWith(peak, mib) + " peak, idle not read"
		}
		return "+" + statWith(grow, mib) + " (peak " + statWith(peak, mib) + ")"
	}
	m.ModelValue, m.RefValue = showRSS(g.RSSGrowth, g.PeakRSS), showRSS(gr.RSSGrowth, gr.PeakRSS)
	if a, b := g.RSSGrowth, gr.RSSGrowth; !a.OK() || !b.OK() {
		m.Verdict, m.Reason = NotMeasured, "idle or peak not sampled for "+missing(g.Model, boolGroup(!a.OK()), gr.Model, boolGroup(!b.OK()))
	} else {
		m.judge(a.Med, b.Med, FidelityRSSFloor, FidelityResourceFactor, "both grew under "+mib(FidelityRSSFloor))
	}
	rows = append(rows, m)
	// The threads that ran, shown as "ran (peak P, idle I)".
	threads := func(v float64) string { return units.Num(math.Round(v)) }
	t := row(FigureThreads)
	showThreads := func(ran, peak, idle Stat) string {
		return statWith(ran, threads) + " (peak " + statWith(peak, threads) + ", idle " + statWith(idle, threads) + ")"
	}
	t.ModelValue, t.RefValue = showThreads(g.ActiveThreads, g.PeakThreads, g.IdleThreads), showThreads(gr.ActiveThreads, gr.PeakThreads, gr.IdleThreads)
	if a, b := g.ActiveThreads, gr.ActiveThreads; !a.OK() || !b.OK() {
		t.Verdict, t.Reason = NotMeasured, "threads that ran not recorded (not sampled, or a results file from before resources.active_threads) for "+missing(g.Model, boolGroup(!a.OK()), gr.Model, boolGroup(!b.OK()))
	} else {
		t.judge(a.Med, b.Med, FidelityThreadFloor, FidelityResourceFactor, "both under "+threads(FidelityThreadFloor))
	}
	rows = append(rows, t)

	x := row(FigureErrors)
	x.ModelValue, x.RefValue = errorsText(g), errorsText(gr)
	a, b := g.ErrorRate, gr.ErrorRate
	switch {
	case !a.OK() || !b.OK():
		x.Verdict, x.Reason = NotMeasured, "no request counted"
	default:
		x.judge(a.Med, b.Med, FidelityErrorFloor, FidelityErrorFactor, "both under "+floorPct())
		if a.Med <= 0 {
			x.Ratio = "–" // no ratio to nothing
		}
	}
	rows = append(rows, x)
	return rows
}

// factorVerdict matches a (the Go model's) and b (the reference's) within
// factor f either way.
func factorVerdict(a, b, f float64, model, ref string) (string, string) {
	switch {
	case a <= 0 && b <= 0:
		return Matches, "both zero"
	case a <= 0 || b <= 0 || b/a > f:
		if b > a {
			return Differs, fmt.Sprintf("%s's is more than ×%s %s's", ref, units.Num(f), model)
		}
		return Differs, fmt.Sprintf("%s's is more than ×%s %s's", model, units.Num(f), ref)
	case a/b > f:
		return Differs, fmt.Sprintf("%s's is more than ×%s %s's", model, units.Num(f), ref)
	}
	return Matches, "within ×" + units.Num(f)
}

// judge sets x's ratio and verdict for a and b, both measured: they match
// when both are under floor (under says so; ByFloor when the factor alone
// would not have matched them), else when within factor either way.
func (x *FidelityRow) judge(a, b, floor, factor float64, under string) {
	x.Ratio = ratioText(b, a)
	verdict, reason := factorVerdict(a, b, factor, x.Model, x.Reference)
	if a < floor && b < floor {
		x.Verdict, x.Reason, x.ByFloor = Matches, under, verdict != Matches
		return
	}
	x.Verdict, x.Reason = verdict, reason
}

// blocked applies the diagnosis rule to a group; why is "" when it cannot.
func blocked(g *Group) (bool, string) {
	if !g.Victim.P99.OK() || !g.Heavy.P50.OK() || g.Victim.P99.Few || g.Heavy.P50.Few {
		return false, "" // a quantile too few answers support decides nothing
	}
	cheap, heavy := g.Victim.P99.Med, g.Heavy.P50.Med
	b := cheap >= BlockedVictimShare*heavy
	op := "<"
	if b {
		op = "≥"
	}
	why := fmt.Sprintf("cheap p99 %s %s %s of heavy p50 %s", units.Ms(cheap), op, units.Share(BlockedVictimShare), units.Ms(heavy))
	if l := g.Loop; l != nil && l.Max.OK() {
		why += ", loop delay max " + units.Ms(l.Max.Med)
	}
	return b, why
}

func blockedText(b bool) string {
	if b {
		return "blocked"
	}
	return "not blocked"
}

func statMs(s Stat) string {
	if !s.OK() {
		return "–"
	}
	return units.Ms(s.Med)
}

func statWith(s Stat, f func(float64) string) string {
	if !s.OK() {
		return "–"
	}
	return f(s.Med)
}

// errorsText is the error share with the 5xx share of the used repetitions
// when there were any (a full queue's 503s): "31 % (5xx 31 %)".
func errorsText(g *Group) string {
	if !g.ErrorRate.OK() {
		return "–"
	}
	s := units.Pct(g.ErrorRate.Med)
	fivexx := statBy(g.Used, func(c *result.Cell) float64 {
		var n int64
		for _, cl := range c.Classes {
			n += cl.ErrorsByKind["status_5xx"]
		}
		return ratio(n, c.Requests)
	})
	if fivexx.OK() && fivexx.Med > 0 {
		s += " (5xx " + units.Pct(fivexx.Med) + ")"
	}
	return s
}

func ratioText(b, a float64) string {
	if a <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return "×" + units.Sig3(b/a)
}

// fidelityHeader names the columns of the fidelity table.
var fidelityHeader = []string{"pair", "scenario", "figure", "Go model", "reference", "ratio", "verdict"}

func (x FidelityRow) cells() []string {
	v := x.Verdict
	switch {
	case x.Verdict != Matches && x.Reason != "":
		v += ": " + x.Reason
	case strings.HasPrefix(x.Reason, "both "): // a floor, not the ratio, made it match
		v += " (" + x.Reason + ")"
	}
	return []string{x.Pair, x.Scenario, x.Figure, x.ModelValue, x.RefValue, x.Ratio, v}
}

// calibrationText is one calibration in a line: "node-loop cpu-mix/cpu:
// /cpu?iters=9654 took 98.1 ms (goal 100 ms)".
func calibrationText(c result.Calibration) string {
	took := "not measured"
	if c.MeasuredMs > 0 {
		took = "took " + units.Ms(c.MeasuredMs)
	}
	s := fmt.Sprintf("%s %s/%s: %s %s (goal %s)", c.Model, c.Scenario, c.Class, c.Used, took, c.GoalText())
	if c.Note != "" {
		s += "; " + c.Note
	}
	return s
}

// writeFidelityText writes the fidelity table for the terminal. The closing
// "fidelity: N of M comparisons match" line is the caller's to print last
// (Fidelity.Line).
func (r *Report) writeFidelityText(w io.Writer) error {
	f := r.Fidelity
	if f == nil {
		return nil
	}
	fmt.Fprintf(w, "\nFIDELITY: %s. %s\n", join(f.Pairs), FidelityRules())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := make([]string, len(fidelityHeader))
	for i, h := range fidelityHeader {
		head[i] = strings.ToUpper(h)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, x := range f.Rows {
		fmt.Fprintln(tw, strings.Join(x.cells(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range f.Calibrations {
		fmt.Fprintf(w, "calibrated %s\n", calibrationText(c))
	}
	return nil
}

// writeFidelityMarkdown writes the Fidelity section of summary.md.
func (r *Report) writeFidelityMarkdown(w io.Writer) {
	f := r.Fidelity
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\n## Fidelity\n\n%s: %s. %s\n\n", mdEscape(f.Line()), mdEscape(join(f.Pairs)), mdEscape(FidelityRules()))
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(fidelityHeader, " | "), strings.Repeat(" --- |", len(fidelityHeader)))
	for _, x := range f.Rows {
		cells := x.cells()
		for i := range cells {
			cells[i] = mdEscape(cells[i])
		}
		if x.Verdict == Differs {
			cells[len(cells)-1] = "**" + cells[len(cells)-1] + "**"
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	if len(f.Calibrations) > 0 {
		w.Write([]byte("\nHeavy work calibrated per server before the cells:\n\n"))
		for _, c := range f.Calibrations {
			fmt.Fprintf(w, "- %s\n", mdEscape(calibrationText(c)))
		}
	}
}
