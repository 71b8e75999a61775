package reports

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
	"github.com/concbench/concbench/workloads"
)

// DPI is the resolution of every PNG. Sizes are in inches, so a 10 in wide
// chart is 960 pixels and 10 pt text is 13 pixels high: legible at 100 %.
const DPI = 96

// Chart is one PNG and what the report says about it. Charts are data: the
// renderer draws them, the golden tests dump them.
type Chart struct {
	// Family is one of percentiles, load, hol, timeline, cost, redos.
	Family string
	// File is the PNG's name in the results directory.
	File  string
	Title string
	// WidthIn and HeightIn are the PNG's size in inches (see DPI).
	WidthIn, HeightIn float64
	// Panels are laid out in Cols columns, row by row.
	Cols   int
	Panels []Panel
	Legend []LegendEntry
	// Sentences state what the chart shows, computed from the run.
	Sentences []string
}

// Size returns the PNG's size in pixels.
func (c *Chart) Size() (w, h int) {
	return int(math.Ceil(c.WidthIn * DPI)), int(math.Ceil(c.HeightIn * DPI))
}

// Panel is one set of axes.
type Panel struct {
	Title          string
	XLabel, YLabel string
	XLog, YLog     bool
	// XTicks, when set, replace automatic ticks on the x axis.
	XTicks []Tick
	// XMin and XMax fix the x range when XFixed.
	XFixed     bool
	XMin, XMax float64
	// YFromZero starts a linear y axis at 0; YInteger labels whole numbers only.
	YFromZero, YInteger bool
	// Categories names the bar groups at x = 0, 1, ...
	Categories []string
	Series     []Series
	Marks      []Mark
	// RefLine draws y = x (achieved = offered).
	RefLine bool
	// Note is written in the panel when it has nothing to draw.
	Note string
}

// Tick is a labelled tick.
type Tick struct {
	Value float64
	Label string
}

// Dash is a line style.
type Dash int

// Line styles.
const (
	Solid Dash = iota
	Dashed
	Dotted
)

// Series is one line, set of points or set of bars.
type Series struct {
	Name string
	// Key selects colour and marker in the fixed palette (a model name,
	// "backtrack", "re2", ...).
	Key  string
	Dash Dash
	// Line connects the points in order; a segment touching an invalid point
	// is drawn grey and dashed.
	Line bool
	// Bars draws each point as a bar at category X, shifted by the series'
	// index among the panel's bar series.
	Bars   bool
	Points []Point
}

// Point is a figure: the median Y with the repetitions' spread [Lo, Hi].
// Invalid points are drawn hollow and grey: generator-bound ones, and those of
// a server that failed (Failed set too), labelled apart.
type Point struct {
	X, Y, Lo, Hi float64
	Invalid      bool
	Failed       bool
}

// Mark is an annotated point, such as a model's knee.
type Mark struct {
	Key   string
	X, Y  float64
	Label string
}

// LegendEntry is one line of a chart's legend.
type LegendEntry struct {
	Label  string
	Key    string
	Dash   Dash
	Line   bool
	Glyph  bool
	Hollow bool
	Bar    bool
	// ErrBar shows the min–max spread marker; Ring the knee marker.
	ErrBar, Ring bool
}

// percentile levels of the spectrum and their x on the "number of nines" axis.
var (
	levels     = []float64{0.5, 0.9, 0.99, 0.999, 0.9999}
	levelNames = []string{"p50", "p90", "p99", "p99.9", "p99.99"}
	ninesTicks = []Tick{{nines(0.5), "50%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}}
)

func nines(q float64) float64 { return -math.Log10(1 - q) }

func invalidEntry(label string) LegendEntry {
	return LegendEntry{Label: label, Key: keyInvalid, Dash: Dashed, Line: true, Glyph: true, Hollow: true}
}

func modelEntry(model, label string) LegendEntry {
	if label == "" {
		label = model
	}
	return LegendEntry{Label: label, Key: model, Line: true, Glyph: true}
}

// invalidModelEntry is the legend entry of a model drawn grey because all of
// its figures in the chart are invalid.
func invalidModelEntry(label string) LegendEntry {
	return LegendEntry{Label: label, Key: keyInvalid, Dash: Dashed, Line: true, Glyph: true, Hollow: true}
}

// groupLabel is a model's legend label in a one-group-per-model chart.
func groupLabel(g *Group) string {
	switch {
	case g.Invalid && g.ServerFailed():
		return g.Model + " (server failed)"
	case g.Invalid:
		return g.Model + " (invalid)"
	case g.ServerFailed():
		return fmt.Sprintf("%s (server failed in %d/%d reps, left out)", g.Model, g.ServerFailedReps, len(g.Cells))
	case g.InvalidReps > 0:
		return fmt.Sprintf("%s (%d/%d reps invalid, left out)", g.Model, g.InvalidReps, len(g.Cells))
	case g.OverCapacity:
		return g.Model + " (over capacity)"
	}
	return g.Model
}

// pointOf makes a point of a group's figure.
func pointOf(x float64, s Stat, g *Group) Point {
	return Point{X: x, Y: s.Med, Lo: s.Min, Hi: s.Max, Invalid: g.Invalid, Failed: g.Invalid && g.ServerFailed()}
}

// chartDecor adds the invalid and spread legend entries the chart needs.
func chartDecor(ch *Chart) {
	generator, failed, spread := false, false, false
	for _, p := range ch.Panels {
		for _, s := range p.Series {
			for _, pt := range s.Points {
				generator = generator || (pt.Invalid && !pt.Failed)
				failed = failed || pt.Failed
				spread = spread || pt.Hi > pt.Lo
			}
		}
	}
	if generator {
		ch.Legend = append(ch.Legend, invalidEntry("invalid: generator-bound"))
	}
	if failed {
		ch.Legend = append(ch.Legend, invalidEntry("invalid: server failed"))
	}
	if spread {
		ch.Legend = append(ch.Legend, LegendEntry{Label: "min–max over reps", Key: keyBlack, ErrBar: true})
	}
}

func (r *Report) buildCharts() {
	r.percentileCharts()
	r.loadCharts()
	r.holCharts()
	r.timelineCharts()
	r.costCharts()
	r.redosChart()
}

// classKind is "cheap" or "heavy".
func classKind(heavy bool) string {
	if heavy {
		return "heavy"
	}
	return "cheap"
}

// ---- 1. Latency by percentile ----

func (r *Report) percentileCharts() {
	for _, s := range r.Scenarios {
		gs := r.groupsAt(s.Name, s.RefRate)
		for _, cl := range s.Mix {
			ch := &Chart{
				Family: "percentiles",
				File:   "percentiles-" + safeName(s.Name) + "-" + safeName(cl.Name) + ".png",
				Title: fmt.Sprintf("%s: %s requests (%s, %s) by percentile at %s",
					s.Name, cl.Name, cl.Target, classKind(cl.Heavy), units.Rate(s.RefRate)),
				WidthIn: 10, HeightIn: 5.625, Cols: 1,
			}
			p := Panel{
				XLabel: "percentile (log scale of 1/(1−p): number of nines)",
				YLabel: "response time (ms, log scale)",
				XTicks: ninesTicks, XFixed: true, XMin: 0.15, XMax: 4.15, YLog: true,
			}
			for _, g := range gs {
				cf := g.Class(cl.Name)
				if cf == nil || !cf.Response.OK() {
					continue
				}
				ser := Series{Name: g.Model, Key: g.Model, Line: true}
				for i, q := range levels {
					if st := cf.Response.at(i); st.OK() {
						ser.Points = append(ser.Points, pointOf(nines(q), st, g))
					}
				}
				p.Series = append(p.Series, ser)
				if g.Invalid {
					ch.Legend = append(ch.Legend, invalidModelEntry(groupLabel(g)))
				} else {
					ch.Legend = append(ch.Legend, modelEntry(g.Model, groupLabel(g)))
				}
			}
			if len(p.Series) == 0 {
				p.Note = "no answers of this class were recorded"
			}
			ch.Panels = []Panel{p}
			chartDecor(ch)
			ch.Sentences = r.percentileSentences(s, cl.Name, cl.Heavy, gs)
			r.Charts = append(r.Charts, ch)
		}
	}
}

func (r *Report) percentileSentences(s *Scenario, class string, heavy bool, gs []*Group) []string {
	type row struct {
		g  *Group
		cf *ClassFigures
	}
	var valid []row
	var invalid, failed, partial, partFailed []string
	for _, g := range gs {
		cf := g.Class(class)
		if cf == nil || !cf.Response.OK() {
			continue
		}
		switch {
		case g.Invalid && g.ServerFailed():
			failed = append(failed, g.Model)
			continue
		case g.Invalid:
			invalid = append(invalid, g.Model)
			continue
		}
		if g.ServerFailed() {
			partFailed = append(partFailed, fmt.Sprintf("%s (%d of %d)", g.Model, g.ServerFailedReps, len(g.Cells)))
		}
		if g.InvalidReps > g.ServerFailedReps {
			partial = append(partial, fmt.Sprintf("%s (%d of %d)", g.Model, g.InvalidReps-g.ServerFailedReps, len(g.Cells)))
		}
		valid = append(valid, row{g, cf})
	}
	var out []string
	at := units.Rate(s.RefRate)
	switch len(valid) {
	case 0:
		if len(failed) == 0 {
			out = append(out, fmt.Sprintf("No model was measured validly at %s: every line here is generator-bound and describes the load generator, not the server.", at))
		} else {
			out = append(out, fmt.Sprintf("No model was measured validly at %s.", at))
		}
	case 1:
		v := valid[0]
		out = append(out, fmt.Sprintf("At %s, %s (%s) p99 was %s (%s).", at, class, classKind(heavy), units.Ms(v.cf.Response.P99.Med), v.g.Model))
	default:
		lo := slices.MinFunc(valid, func(a, b row) int { return cmp.Compare(a.cf.Response.P99.Med, b.cf.Response.P99.Med) })
		hi := slices.MaxFunc(valid, func(a, b row) int { return cmp.Compare(a.cf.Response.P99.Med, b.cf.Response.P99.Med) })
		out = append(out, fmt.Sprintf("At %s, %s (%s) p99 ranged from %s (%s) to %s (%s).", at, class, classKind(heavy),
			units.Ms(lo.cf.Response.P99.Med), lo.g.Model, units.Ms(hi.cf.Response.P99.Med), hi.g.Model))
	}
	if len(valid) > 0 {
		tail := func(v row) float64 { return v.cf.Response.P999.Med / math.Max(v.cf.Response.P50.Med, 1e-3) }
		w := slices.MaxFunc(valid, func(a, b row) int { return cmp.Compare(tail(a), tail(b)) })
		if tail(w) >= 5 {
			out = append(out, fmt.Sprintf("%s had the longest tail: p50 %s but p99.9 %s (%s).", w.g.Model,
				units.Ms(w.cf.Response.P50.Med), units.Ms(w.cf.Response.P999.Med), units.Factor(tail(w))))
		} else {
			out = append(out, fmt.Sprintf("Tails stayed short: every model's p99.9 was within %s of its p50.", units.Factor(tail(w))))
		}
	}
	if len(failed) > 0 {
		out = append(out, fmt.Sprintf("The server of %s failed at this rate (see the diagnosis): its grey line is not a working server's.", join(failed)))
	}
	if len(partFailed) > 0 {
		out = append(out, fmt.Sprintf("Repetitions whose server failed were left out for %s: see the diagnosis.", join(partFailed)))
	}
	if len(invalid) > 0 {
		verb := "was"
		if len(invalid) > 1 {
			verb = "were"
		}
		out = append(out, fmt.Sprintf("%s %s generator-bound at this rate: grey lines describe the load generator, not the server.", join(invalid), verb))
	} else if len(partial) > 0 {
		out = append(out, fmt.Sprintf("Generator-bound repetitions were left out for %s.", join(partial)))
	}
	return out
}

// ---- 2. Latency vs offered load ----

func (r *Report) loadCharts() {
	multi := false
	for _, s := range r.Scenarios {
		if len(s.Rates) < 2 {
			continue
		}
		multi = true
		ch := &Chart{
			Family:  "load",
			File:    "load-" + safeName(s.Name) + ".png",
			Title:   fmt.Sprintf("%s: latency of cheap requests and achieved throughput vs offered load", s.Name),
			WidthIn: 14, HeightIn: 5.5, Cols: 2,
		}
		xlog := s.Rates[len(s.Rates)-1]/s.Rates[0] >= 10
		lat := Panel{Title: "cheap-request response time (worst cheap class)", XLabel: "offered load (req/s)", YLabel: "response time (ms, log scale)", YLog: true, XLog: xlog}
		thr := Panel{Title: "achieved vs offered", XLabel: "offered load (req/s)", YLabel: "achieved (req/s)", XLog: xlog, YLog: xlog, RefLine: true, YFromZero: !xlog}
		var rateTicks []Tick
		for _, rate := range s.Rates {
			rateTicks = append(rateTicks, Tick{rate, units.Num(rate)})
		}
		lat.XTicks, thr.XTicks = rateTicks, rateTicks
		pcts := []struct {
			name string
			dash Dash
			get  func(Percentiles) Stat
		}{
			{"p50", Dotted, func(p Percentiles) Stat { return p.P50 }},
			{"p99", Solid, func(p Percentiles) Stat { return p.P99 }},
			{"p99.9", Dashed, func(p Percentiles) Stat { return p.P999 }},
		}
		for _, m := range r.Models {
			var gs []*Group
			for _, rate := range s.Rates {
				if g := r.Group(m, s.Name, rate); g != nil && g.Victim.OK() {
					gs = append(gs, g)
				}
			}
			if len(gs) == 0 {
				continue
			}
			for _, pc := range pcts {
				ser := Series{Name: m + " " + pc.name, Key: m, Dash: pc.dash, Line: true}
				for _, g := range gs {
					ser.Points = append(ser.Points, pointOf(g.Rate, pc.get(g.Victim), g))
				}
				lat.Series = append(lat.Series, ser)
			}
			ach := Series{Name: m + " achieved", Key: m, Line: true}
			for _, g := range gs {
				ach.Points = append(ach.Points, pointOf(g.Rate, g.Achieved, g))
			}
			thr.Series = append(thr.Series, ach)
			if k := r.Knee(m, s.Name); k.Met {
				g := r.Group(m, s.Name, k.Rate)
				lat.Marks = append(lat.Marks, Mark{Key: m, X: k.Rate, Y: g.Victim.P99.Med})
			}
			ch.Legend = append(ch.Legend, modelEntry(m, ""))
		}
		ch.Legend = append(ch.Legend,
			LegendEntry{Label: "p50", Key: keyBlack, Dash: Dotted, Line: true},
			LegendEntry{Label: "p99", Key: keyBlack, Dash: Solid, Line: true},
			LegendEntry{Label: "p99.9", Key: keyBlack, Dash: Dashed, Line: true},
			LegendEntry{Label: "knee (SLO met)", Key: keyBlack, Ring: true},
			LegendEntry{Label: "achieved = offered", Key: keyRef, Dash: Dashed, Line: true},
		)
		ch.Panels = []Panel{lat, thr}
		chartDecor(ch)
		ch.Sentences = r.loadSentences(s)
		r.Charts = append(r.Charts, ch)
	}
	if !multi {
		r.Omitted = append(r.Omitted, Omission{Family: "load", Title: "Latency vs offered load",
			Reason: "every scenario of this run was offered a single rate, so there is no curve and no knee to find; give a scenario several rates to draw it"})
	}
}

func (r *Report) loadSentences(s *Scenario) []string {
	var met, none []string
	for _, m := range r.Models {
		if !r.hasScenario(m, s.Name) {
			continue
		}
		if k := r.Knee(m, s.Name); k.Met {
			met = append(met, m+" "+r.kneeText(m, s))
		} else {
			none = append(none, m)
		}
	}
	first := fmt.Sprintf("Knee (highest offered rate meeting %s for the cheap classes): ", r.SLOText)
	switch {
	case len(met) > 0 && len(none) > 0:
		first += join(met) + "; no valid rate met it for " + join(none) + "."
	case len(met) > 0:
		first += join(met) + "."
	default:
		first += "no model met it at any valid rate."
	}
	out := []string{first}

	lo, hi := s.Rates[0], s.Rates[len(s.Rates)-1]
	type change struct {
		m    string
		a, b float64
	}
	var cs []change
	for _, m := range r.Models {
		ga, gb := r.Group(m, s.Name, lo), r.Group(m, s.Name, hi)
		if ga == nil || gb == nil || ga.Invalid || gb.Invalid || !ga.Victim.OK() || !gb.Victim.OK() {
			continue
		}
		cs = append(cs, change{m, ga.Victim.P99.Med, gb.Victim.P99.Med})
	}
	if len(cs) > 0 {
		// The worst and the best model at the highest rate.
		w := slices.MaxFunc(cs, func(x, y change) int { return cmp.Compare(x.b, y.b) })
		b := slices.MinFunc(cs, func(x, y change) int { return cmp.Compare(x.b, y.b) })
		sent := fmt.Sprintf("From %s to %s, %s's cheap-request p99 went from %s to %s", units.Num(lo), units.Rate(hi), w.m, units.Ms(w.a), units.Ms(w.b))
		if b.m != w.m {
			sent += fmt.Sprintf("; %s's from %s to %s", b.m, units.Ms(b.a), units.Ms(b.b))
		}
		out = append(out, sent+".")
	}

	var short []string
	for _, g := range r.Groups {
		if g.Scenario != s.Name || !g.Achieved.OK() || g.Achieved.Med >= KeptFraction*g.Rate {
			continue
		}
		t := fmt.Sprintf("%s got %s of %s", g.Model, units.Num(g.Achieved.Med), units.Rate(g.Rate))
		if g.Invalid && g.ServerFailed() {
			t += " (server failed)"
		} else if g.Invalid {
			t += " (generator-bound)"
		} else if g.OverCapacity {
			t += " (over capacity)"
		}
		short = append(short, t)
	}
	if len(short) == 0 {
		out = append(out, fmt.Sprintf("Every model achieved at least %s of the offered rate at every rate.", units.Share(KeptFraction)))
	} else {
		out = append(out, "Achieved fell short of offered where "+join(short)+".")
	}
	return out
}

func (r *Report) hasScenario(model, scenario string) bool {
	for _, g := range r.Groups {
		if g.Model == model && g.Scenario == scenario {
			return true
		}
	}
	return false
}

// ---- 3. Head-of-line blocking ----

func (r *Report) holCharts() {
	for _, f := range r.Families {
		ch := &Chart{
			Family:  "hol",
			File:    "hol-" + safeName(strings.Join(f.Scenarios, "+")) + ".png",
			WidthIn: 10, HeightIn: 5.625, Cols: 1,
		}
		p := Panel{YLabel: "cheap-request p99 (ms, log scale)", YLog: true}
		if f.Kind == "share" {
			ch.Title = fmt.Sprintf("Head-of-line blocking: cheap-request p99 vs share of heavy %s at %s", f.Heavy, units.Rate(f.Rate))
			p.XLabel = "heavy requests (% of the mix)"
		} else {
			ch.Title = fmt.Sprintf("Head-of-line blocking: cheap-request p99 vs heavy work %s at %s", f.Heavy, units.Rate(f.Rate))
			p.XLabel = "heavy work: " + f.Param + " (" + f.Heavy + ")"
		}
		for i, x := range f.X {
			label := units.Num(x)
			if f.Kind == "share" {
				label += " %"
			}
			p.XTicks = append(p.XTicks, Tick{x, label + "\n" + f.Scenarios[i]})
		}
		span := f.X[len(f.X)-1] - f.X[0]
		p.XFixed, p.XMin, p.XMax = true, f.X[0]-0.08*span, f.X[len(f.X)-1]+0.08*span
		for _, m := range r.Models {
			ser := Series{Name: m, Key: m, Line: true}
			for i, sc := range f.Scenarios {
				if g := r.Group(m, sc, f.Rate); g != nil && g.Victim.OK() {
					ser.Points = append(ser.Points, pointOf(f.X[i], g.Victim.P99, g))
				}
			}
			if len(ser.Points) > 0 {
				p.Series = append(p.Series, ser)
				ch.Legend = append(ch.Legend, modelEntry(m, ""))
			}
		}
		ch.Panels = []Panel{p}
		chartDecor(ch)
		ch.Sentences = r.holSentences(f)
		r.Charts = append(r.Charts, ch)
	}
}

func (r *Report) holSentences(f *Family) []string {
	xText := func(x float64) string {
		if f.Kind == "share" {
			return units.Share(x / 100)
		}
		return f.Param + "=" + units.Num(x)
	}
	type line struct {
		m      string
		ys     []float64
		broken bool // a point is missing or invalid
	}
	var lines []line
	var invalid []string
	for _, m := range r.Models {
		l := line{m: m}
		for _, sc := range f.Scenarios {
			g := r.Group(m, sc, f.Rate)
			if g == nil || g.Invalid || !g.Victim.OK() {
				l.broken = true
				if g != nil && g.Invalid {
					invalid = append(invalid, m+" in "+sc)
				}
				continue
			}
			l.ys = append(l.ys, g.Victim.P99.Med)
		}
		if !l.broken {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return []string{"No model was measured validly in every scenario of this comparison."}
	}
	last := len(f.X) - 1
	// Each heavy request's own cost: the fastest valid median service time.
	work := math.NaN()
	for _, m := range r.Models {
		if g := r.Group(m, f.Scenarios[last], f.Rate); g != nil && !g.Invalid {
			for _, cf := range g.Classes {
				if cf.Heavy && cf.Service.OK() && !(cf.Service.P50.Med >= work) {
					work = cf.Service.P50.Med
				}
			}
		}
	}
	rise := func(l line) float64 { return l.ys[len(l.ys)-1] - l.ys[0] }
	w := slices.MaxFunc(lines, func(a, b line) int { return cmp.Compare(rise(a), rise(b)) })
	b := slices.MinFunc(lines, func(a, b line) int { return cmp.Compare(slices.Max(a.ys), slices.Max(b.ys)) })
	verb := "rose"
	if rise(w) <= 0 {
		verb = "went"
	}
	what := "heavy requests (" + f.Heavy
	if !math.IsNaN(work) {
		what += ", ≈" + units.Ms(work) + " each"
	}
	what += ")"
	var first string
	if f.Kind == "share" {
		first = fmt.Sprintf("%s: cheap-request p99 %s from %s to %s as %s went from %s to %s of the mix at %s",
			w.m, verb, units.Ms(w.ys[0]), units.Ms(w.ys[last]), what, xText(f.X[0]), xText(f.X[last]), units.Rate(f.Rate))
	} else {
		first = fmt.Sprintf("%s: cheap-request p99 %s from %s to %s as the heavy work went from %s to %s at %s",
			w.m, verb, units.Ms(w.ys[0]), units.Ms(w.ys[last]), xText(f.X[0]), xText(f.X[last]), units.Rate(f.Rate))
	}
	if b.m != w.m {
		lo, hi := slices.Min(b.ys), slices.Max(b.ys)
		if units.Sig3(lo) == units.Sig3(hi) {
			first += fmt.Sprintf("; %s kept it at %s", b.m, units.Ms(hi))
		} else {
			first += fmt.Sprintf("; %s kept it between %s and %s", b.m, units.Ms(lo), units.Ms(hi))
		}
	}
	out := []string{first + "."}
	var all []string
	for _, l := range lines {
		var vs []string
		for _, y := range l.ys {
			vs = append(vs, units.Ms(y))
		}
		all = append(all, l.m+" "+strings.Join(vs, " → "))
	}
	xs := make([]string, len(f.X))
	for i, x := range f.X {
		xs[i] = xText(x)
	}
	second := fmt.Sprintf("Cheap-request p99 at %s: %s", strings.Join(xs, " → "), strings.Join(all, "; "))
	if len(invalid) > 0 {
		second += "; not measured validly: " + join(invalid)
	}
	return append(out, second+".")
}

// ---- 4. Over time ----

// timelineCell picks the repetition a timeline shows: the first valid one.
func timelineCell(g *Group) *result.Cell {
	for _, c := range g.Cells {
		if c.Validity.Valid && len(c.Timeline) > 0 {
			return c
		}
	}
	for _, c := range g.Cells {
		if len(c.Timeline) > 0 {
			return c
		}
	}
	return nil
}

func (r *Report) timelineCharts() {
	drawn := false
	for _, s := range r.Scenarios {
		for _, rate := range s.Rates {
			gs := r.groupsAt(s.Name, rate)
			type pick struct {
				g *Group
				c *result.Cell
			}
			var picks []pick
			for _, g := range gs {
				if c := timelineCell(g); c != nil {
					picks = append(picks, pick{g, c})
				}
			}
			if len(picks) == 0 {
				continue
			}
			drawn = true
			ch := &Chart{
				Family:  "timeline",
				File:    "timeline-" + safeName(s.Name) + "-r" + safeName(units.Num(rate)) + ".png",
				Title:   fmt.Sprintf("%s at %s: every second of the measured window (one repetition per model)", s.Name, units.Rate(rate)),
				WidthIn: 13, HeightIn: 9, Cols: 2,
			}
			panels := []Panel{
				{Title: "throughput", YLabel: "answers (req/s)", YFromZero: true},
				{Title: "p99 response time, all classes", YLabel: "ms, log scale", YLog: true},
				{Title: "errors", YLabel: "errors per second", YFromZero: true, YInteger: true},
				{Title: "event-loop delay p99 (loop models)", YLabel: "ms", YFromZero: true},
				{Title: "worker-pool queue depth (offload)", YLabel: "queued requests", YFromZero: true, YInteger: true},
				{Title: "server memory", YLabel: "RSS (MiB)", YFromZero: true},
			}
			for i := range panels {
				panels[i].XLabel = "time in window (s)"
			}
			for _, pk := range picks {
				inv, failed := !pk.c.Validity.Valid, pk.c.Validity.ServerFailed()
				get := []func(result.Second) (float64, bool){
					func(s result.Second) (float64, bool) { return float64(s.Requests), true },
					func(s result.Second) (float64, bool) { return s.P99, s.P99 > 0 },
					func(s result.Second) (float64, bool) { return float64(s.Errors), true },
					func(s result.Second) (float64, bool) { return s.LoopDelayMs, pk.g.Loop != nil },
					func(s result.Second) (float64, bool) { return float64(s.QueueDepth), pk.g.Pool != nil },
					func(s result.Second) (float64, bool) { return float64(s.RSSBytes) / (1 << 20), s.RSSBytes > 0 },
				}
				for i, f := range get {
					ser := Series{Name: pk.g.Model, Key: pk.g.Model, Line: true}
					for _, sec := range pk.c.Timeline {
						if v, ok := f(sec); ok {
							ser.Points = append(ser.Points, Point{X: float64(sec.T), Y: v, Lo: v, Hi: v, Invalid: inv, Failed: failed})
						}
					}
					if len(ser.Points) > 0 {
						panels[i].Series = append(panels[i].Series, ser)
					}
				}
				if failed {
					ch.Legend = append(ch.Legend, invalidModelEntry(fmt.Sprintf("%s (rep %d, server failed)", pk.g.Model, pk.c.Rep)))
				} else if inv {
					ch.Legend = append(ch.Legend, invalidModelEntry(fmt.Sprintf("%s (rep %d, invalid)", pk.g.Model, pk.c.Rep)))
				} else {
					ch.Legend = append(ch.Legend, modelEntry(pk.g.Model, fmt.Sprintf("%s (rep %d)", pk.g.Model, pk.c.Rep)))
				}
			}
			panels[3].Note = "no loop model in this scenario"
			panels[4].Note = "no worker pool in this scenario"
			ch.Panels = panels
			chartDecor(ch)
			cells := make([]*result.Cell, len(picks))
			for i, pk := range picks {
				cells[i] = pk.c
			}
			ch.Sentences = timelineSentences(rate, cells)
			r.Charts = append(r.Charts, ch)
		}
	}
	if !drawn {
		r.Omitted = append(r.Omitted, Omission{Family: "timeline", Title: "Over time",
			Reason: "no cell of this run recorded a per-second timeline"})
	}
}

func timelineSentences(rate float64, cells []*result.Cell) []string {
	var out []string
	var dips []string
	for _, c := range cells {
		minI := 0
		for i, s := range c.Timeline {
			if s.Requests < c.Timeline[minI].Requests {
				minI = i
			}
		}
		if s := c.Timeline[minI]; float64(s.Requests) < 0.9*rate {
			d := fmt.Sprintf("%s to %s in second %d", c.Model, units.Rate(float64(s.Requests)), s.T)
			if c.Validity.ServerFailed() {
				d += " (server failed)"
			} else if !c.Validity.Valid {
				d += " (generator-bound)"
			}
			dips = append(dips, d)
		}
	}
	if len(dips) == 0 {
		out = append(out, fmt.Sprintf("Every model answered at least 90 %% of %s in every second.", units.Rate(rate)))
	} else {
		out = append(out, "Per-second throughput fell below 90 % of the offered rate for "+join(dips)+".")
	}

	type peak struct {
		model string
		p99   float64
		t     int
	}
	var peaks []peak
	for _, c := range cells {
		pk := peak{model: c.Model, p99: -1}
		for _, s := range c.Timeline {
			if s.P99 > pk.p99 {
				pk.p99, pk.t = s.P99, s.T
			}
		}
		if pk.p99 > 0 {
			peaks = append(peaks, pk)
		}
	}
	if len(peaks) > 0 {
		w := slices.MaxFunc(peaks, func(a, b peak) int { return cmp.Compare(a.p99, b.p99) })
		b := slices.MinFunc(peaks, func(a, b peak) int { return cmp.Compare(a.p99, b.p99) })
		s := fmt.Sprintf("The worst second's p99 was %s (%s, second %d)", units.Ms(w.p99), w.model, w.t)
		if b.model != w.model {
			s += fmt.Sprintf("; %s's worst second stayed at %s", b.model, units.Ms(b.p99))
		}
		out = append(out, s+".")
	}

	var errs []string
	type peakAt struct {
		model string
		v     float64
		t     int
	}
	var loop, queue *peakAt
	for _, c := range cells {
		var n int64
		for _, s := range c.Timeline {
			n += s.Errors
			if s.LoopDelayMs > 0 && (loop == nil || s.LoopDelayMs > loop.v) {
				loop = &peakAt{c.Model, s.LoopDelayMs, s.T}
			}
			if s.QueueDepth > 0 && (queue == nil || float64(s.QueueDepth) > queue.v) {
				queue = &peakAt{c.Model, float64(s.QueueDepth), s.T}
			}
		}
		if n > 0 {
			errs = append(errs, fmt.Sprintf("%s %d", c.Model, n))
		}
	}
	third := "No errors"
	if len(errs) > 0 {
		third = "Errors: " + join(errs)
	}
	var extras []string
	if loop != nil {
		extras = append(extras, fmt.Sprintf("the highest loop-delay p99 was %s's %s (second %d)", loop.model, units.Ms(loop.v), loop.t))
	}
	if queue != nil {
		extras = append(extras, fmt.Sprintf("%s's pool queue peaked at %s (second %d)", queue.model, plural(int(queue.v), "request"), queue.t))
	}
	if len(extras) > 0 {
		third += "; " + join(extras)
	}
	return append(out, third+".")
}

// ---- 5. Cost of the model ----

func (r *Report) costCharts() {
	// Concurrency is the peak in flight when every group recorded it, else the offered rate.
	byInFlight := len(r.Groups) > 0
	for _, g := range r.Groups {
		byInFlight = byInFlight && g.PeakInFlight.OK()
	}
	xOf := func(g *Group) Stat {
		if byInFlight {
			return g.PeakInFlight
		}
		return Stat{Med: g.Rate, Min: g.Rate, Max: g.Rate, N: 1}
	}
	xLabel := "peak requests in flight (log scale)"
	if !byInFlight {
		xLabel = "offered load (req/s, log scale)"
	}
	mem := &Chart{
		Family: "cost", File: "cost-memory.png",
		Title:   "Cost of the model: peak memory and OS threads against concurrency (every scenario and rate)",
		WidthIn: 14, HeightIn: 5.5, Cols: 2,
	}
	rss := Panel{Title: "peak RSS", XLabel: xLabel, YLabel: "peak RSS (MiB, log scale)", XLog: true, YLog: true}
	thr := Panel{Title: "peak OS threads", XLabel: xLabel, YLabel: "OS threads (log scale)", XLog: true, YLog: true}
	for _, m := range r.Models {
		var gs []*Group
		for _, g := range r.Groups {
			if g.Model == m && xOf(g).OK() {
				gs = append(gs, g)
			}
		}
		if len(gs) == 0 {
			continue
		}
		slices.SortStableFunc(gs, func(a, b *Group) int { return cmp.Compare(xOf(a).Med, xOf(b).Med) })
		sr := Series{Name: m, Key: m, Line: true}
		st := Series{Name: m, Key: m, Line: true}
		for _, g := range gs {
			x := xOf(g).Med
			if g.PeakRSS.OK() {
				sr.Points = append(sr.Points, Point{X: x, Y: g.PeakRSS.Med / (1 << 20), Lo: g.PeakRSS.Min / (1 << 20), Hi: g.PeakRSS.Max / (1 << 20), Invalid: g.Invalid, Failed: g.Invalid && g.ServerFailed()})
			}
			if g.PeakThreads.OK() {
				st.Points = append(st.Points, pointOf(x, g.PeakThreads, g))
			}
		}
		rss.Series = append(rss.Series, sr)
		thr.Series = append(thr.Series, st)
		mem.Legend = append(mem.Legend, modelEntry(m, ""))
	}
	if len(rss.Series) == 0 {
		r.Omitted = append(r.Omitted, Omission{Family: "cost", Title: "Cost of the model: memory and threads",
			Reason: "no cell recorded its requests in flight or its offered rate"})
	} else {
		mem.Panels = []Panel{rss, thr}
		chartDecor(mem)
		mem.Sentences = r.memorySentences(xOf, byInFlight)
		r.Charts = append(r.Charts, mem)
	}

	cpu := &Chart{
		Family: "cost", File: "cost-cpu.png",
		Title:   "Cost of the model: server CPU time per 1000 requests (each scenario at its reference rate)",
		WidthIn: 10, HeightIn: 5.625, Cols: 1,
	}
	p := Panel{XLabel: "scenario (reference rate)", YLabel: "CPU ms per 1000 requests (log scale)", YLog: true}
	for _, s := range r.Scenarios {
		p.Categories = append(p.Categories, s.Name+"\n"+units.Rate(s.RefRate))
	}
	for _, m := range r.Models {
		ser := Series{Name: m, Key: m, Bars: true}
		for i, s := range r.Scenarios {
			if g := r.Group(m, s.Name, s.RefRate); g != nil && g.CPUPer1k.OK() {
				ser.Points = append(ser.Points, pointOf(float64(i), g.CPUPer1k, g))
			}
		}
		if len(ser.Points) > 0 {
			p.Series = append(p.Series, ser)
			cpu.Legend = append(cpu.Legend, LegendEntry{Label: m, Key: m, Bar: true})
		}
	}
	if len(p.Series) == 0 {
		r.Omitted = append(r.Omitted, Omission{Family: "cost", Title: "Cost of the model: CPU time",
			Reason: "no cell recorded the server's CPU time"})
		return
	}
	cpu.Panels = []Panel{p}
	chartDecor(cpu)
	cpu.Sentences = r.cpuSentences()
	r.Charts = append(r.Charts, cpu)
}

func (r *Report) memorySentences(xOf func(*Group) Stat, byInFlight bool) []string {
	unit := func(x float64) string {
		if byInFlight {
			return units.Num(x) + " in flight"
		}
		return units.Rate(x)
	}
	type span struct {
		m      string
		lo, hi *Group
	}
	var spans []span
	for _, m := range r.Models {
		var sp span
		sp.m = m
		for _, g := range r.Groups {
			if g.Model != m || g.Invalid || !xOf(g).OK() || !g.PeakRSS.OK() || !g.PeakThreads.OK() {
				continue
			}
			if sp.lo == nil || xOf(g).Med < xOf(sp.lo).Med {
				sp.lo = g
			}
			if sp.hi == nil || xOf(g).Med > xOf(sp.hi).Med {
				sp.hi = g
			}
		}
		if sp.hi != nil {
			spans = append(spans, sp)
		}
	}
	if len(spans) == 0 {
		return []string{"No valid cell recorded peak memory and threads."}
	}
	big := slices.MaxFunc(spans, func(a, b span) int { return cmp.Compare(a.hi.PeakRSS.Med, b.hi.PeakRSS.Med) })
	small := slices.MinFunc(spans, func(a, b span) int { return cmp.Compare(a.hi.PeakRSS.Med, b.hi.PeakRSS.Med) })
	first := fmt.Sprintf("At its highest concurrency, %s peaked at %s and %s OS threads with %s (%s)",
		big.m, units.MiB(big.hi.PeakRSS.Med), units.Num(big.hi.PeakThreads.Med), unit(xOf(big.hi).Med), scenarioAt(big.hi.Scenario, big.hi.Rate))
	if small.m != big.m {
		first += fmt.Sprintf("; %s needed %s and %s threads with %s (%s)",
			small.m, units.MiB(small.hi.PeakRSS.Med), units.Num(small.hi.PeakThreads.Med), unit(xOf(small.hi).Med), scenarioAt(small.hi.Scenario, small.hi.Rate))
	}
	out := []string{first + "."}

	slope := func(sp span) float64 {
		dx := xOf(sp.hi).Med - xOf(sp.lo).Med
		if dx <= 0 {
			return 0
		}
		return (sp.hi.PeakThreads.Med - sp.lo.PeakThreads.Med) / dx
	}
	w := slices.MaxFunc(spans, func(a, b span) int { return cmp.Compare(slope(a), slope(b)) })
	if slope(w) > 0 {
		per := "per extra request in flight"
		if !byInFlight {
			per = "per extra req/s offered"
		}
		s := fmt.Sprintf("%s's threads grew by %s %s (%s → %s threads, RSS %s → %s, from %s to %s)", w.m, units.Num(slope(w)), per,
			units.Num(w.lo.PeakThreads.Med), units.Num(w.hi.PeakThreads.Med), units.MiB(w.lo.PeakRSS.Med), units.MiB(w.hi.PeakRSS.Med),
			unit(xOf(w.lo).Med), unit(xOf(w.hi).Med))
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, g := range r.Groups {
			if g.Model != w.m && !g.Invalid && g.PeakThreads.OK() {
				lo, hi = math.Min(lo, g.PeakThreads.Med), math.Max(hi, g.PeakThreads.Med)
			}
		}
		if !math.IsInf(lo, 0) {
			s += fmt.Sprintf("; the other models stayed between %s and %s threads", units.Num(lo), units.Num(hi))
		}
		out = append(out, s+".")
	}
	return out
}

func (r *Report) cpuSentences() []string {
	type gap struct {
		s      *Scenario
		lo, hi *Group
	}
	var gaps []gap
	for _, s := range r.Scenarios {
		var gp gap
		gp.s = s
		for _, g := range r.groupsAt(s.Name, s.RefRate) {
			if g.Invalid || !g.CPUPer1k.OK() {
				continue
			}
			if gp.lo == nil || g.CPUPer1k.Med < gp.lo.CPUPer1k.Med {
				gp.lo = g
			}
			if gp.hi == nil || g.CPUPer1k.Med > gp.hi.CPUPer1k.Med {
				gp.hi = g
			}
		}
		if gp.lo != nil && gp.lo != gp.hi {
			gaps = append(gaps, gp)
		}
	}
	if len(gaps) == 0 {
		return []string{"Too few valid cells recorded CPU time to compare the models."}
	}
	ratio := func(g gap) float64 { return g.hi.CPUPer1k.Med / g.lo.CPUPer1k.Med }
	w := slices.MaxFunc(gaps, func(a, b gap) int { return cmp.Compare(ratio(a), ratio(b)) })
	out := []string{fmt.Sprintf("CPU per 1000 requests differed most in %s: %s used %s, %s %s (%s).",
		w.s.Name, w.hi.Model, units.Ms(w.hi.CPUPer1k.Med), w.lo.Model, units.Ms(w.lo.CPUPer1k.Med), units.Factor(ratio(w)))}
	n := slices.MinFunc(gaps, func(a, b gap) int { return cmp.Compare(ratio(a), ratio(b)) })
	if n.s != w.s {
		out = append(out, fmt.Sprintf("It differed least in %s, where every model used %s to %s per 1000 requests (%s).",
			n.s.Name, units.Ms(n.lo.CPUPer1k.Med), units.Ms(n.hi.CPUPer1k.Med), units.Factor(ratio(n))))
	}
	return out
}

// ---- 6. ReDoS ----

// regexPoint is the fastest valid model's median service time of one heavy
// /regex class: the time per match plus the HTTP round trip, with the least
// queueing in front of it.
type regexPoint struct {
	engine  workloads.Engine
	n       int
	model   string
	service Stat
	invalid bool
	failed  bool // invalid because the server failed
}

func (r *Report) regexPoints() []regexPoint {
	best := map[[2]int]*regexPoint{}
	for _, g := range r.Groups {
		for _, cf := range g.Classes {
			if !cf.Heavy || !cf.Service.OK() {
				continue
			}
			u, err := url.Parse(cf.Target)
			if err != nil || u.Path != "/regex" {
				continue
			}
			req, perr := workloads.Parse("GET", u.Path, u.RawQuery)
			if perr != nil {
				continue
			}
			k := [2]int{int(req.Engine), req.N}
			p := regexPoint{engine: req.Engine, n: req.N, model: g.Model, service: cf.Service.P50, invalid: g.Invalid, failed: g.Invalid && g.ServerFailed()}
			cur := best[k]
			switch {
			case cur == nil,
				cur.invalid && !p.invalid,
				cur.invalid == p.invalid && p.service.Med < cur.service.Med:
				best[k] = &p
			}
		}
	}
	var out []regexPoint
	for _, p := range best {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b regexPoint) int {
		return cmp.Or(cmp.Compare(a.engine, b.engine), cmp.Compare(a.n, b.n))
	})
	return out
}

func (r *Report) redosChart() {
	pts := r.regexPoints()
	if len(pts) == 0 {
		r.Omitted = append(r.Omitted, Omission{Family: "redos", Title: "ReDoS: time per match vs input length",
			Reason: "no heavy class of this run targets /regex, so there is no match time to plot"})
		return
	}
	ch := &Chart{
		Family:  "redos",
		File:    "redos.png",
		Title:   "ReDoS: time per /regex request vs input length, " + workloads.Pattern + ` on "a"×n+"!"`,
		WidthIn: 10, HeightIn: 5.625, Cols: 1,
	}
	p := Panel{XLabel: "input length n (characters)", YLabel: "service time p50 (ms, log scale)", YLog: true}
	var ns []int
	for _, e := range []workloads.Engine{workloads.EngineBacktrack, workloads.EngineRE2} {
		key, name := "backtrack", "backtracking (regexp2)"
		if e == workloads.EngineRE2 {
			key, name = "re2", "RE2 (Go regexp)"
		}
		ser := Series{Name: name, Key: key, Line: true}
		if e == workloads.EngineRE2 {
			ser.Dash = Dashed
		}
		for _, pt := range pts {
			if pt.engine == e {
				ser.Points = append(ser.Points, Point{X: float64(pt.n), Y: pt.service.Med, Lo: pt.service.Min, Hi: pt.service.Max, Invalid: pt.invalid, Failed: pt.failed})
				if !slices.Contains(ns, pt.n) {
					ns = append(ns, pt.n)
				}
			}
		}
		if len(ser.Points) > 0 {
			p.Series = append(p.Series, ser)
			ch.Legend = append(ch.Legend, LegendEntry{Label: name, Key: key, Dash: ser.Dash, Line: true, Glyph: true})
		}
	}
	slices.Sort(ns)
	for _, n := range ns {
		p.XTicks = append(p.XTicks, Tick{float64(n), units.Num(float64(n))})
	}
	p.XFixed, p.XMin, p.XMax = true, float64(ns[0])-1, float64(ns[len(ns)-1])+1
	ch.Panels = []Panel{p}
	chartDecor(ch)
	ch.Sentences = redosSentences(pts)
	r.Charts = append(r.Charts, ch)
}

func redosSentences(pts []regexPoint) []string {
	var bt, re []regexPoint
	failed := false
	for _, p := range pts {
		if p.invalid {
			failed = failed || p.failed
			continue
		}
		if p.engine == workloads.EngineRE2 {
			re = append(re, p)
		} else {
			bt = append(bt, p)
		}
	}
	var out []string
	describe := func(name string, ps []regexPoint) {
		switch len(ps) {
		case 0:
		case 1:
			out = append(out, fmt.Sprintf("%s was measured at n=%d only: %s per request (%s).", name, ps[0].n, units.Ms(ps[0].service.Med), ps[0].model))
		default:
			a, b := ps[0], ps[len(ps)-1]
			per := math.Pow(b.service.Med/a.service.Med, 1/float64(b.n-a.n))
			growth := fmt.Sprintf("%s per extra character", units.Factor(per))
			if per < 1.05 {
				growth = "no growth beyond the HTTP round trip"
			}
			out = append(out, fmt.Sprintf("%s took %s per request at n=%d (%s) and %s at n=%d (%s): %s.",
				name, units.Ms(a.service.Med), a.n, a.model, units.Ms(b.service.Med), b.n, b.model, growth))
		}
	}
	describe("Backtracking", bt)
	describe("RE2", re)
	if len(bt) > 0 && len(re) > 0 {
		for i := len(bt) - 1; i >= 0; i-- {
			if j := slices.IndexFunc(re, func(p regexPoint) bool { return p.n == bt[i].n }); j >= 0 {
				out = append(out, fmt.Sprintf("At n=%d backtracking was %s slower than RE2 (fastest valid model's median service time, HTTP round trip included).",
					bt[i].n, units.Factor(bt[i].service.Med/re[j].service.Med)))
				break
			}
		}
	}
	if len(out) == 0 && failed {
		out = append(out, "No /regex class was measured validly: the grey points are those of a failed server or of the load generator (see the diagnosis).")
	} else if len(out) == 0 {
		out = append(out, "No /regex class was measured validly: the grey points describe the load generator.")
	}
	return out
}
