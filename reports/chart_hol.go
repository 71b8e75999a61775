package reports

// Chart family "hol": head-of-line blocking, cheap-request p99 against the
// share or size of the heavy work, and the sentences that say what it shows.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/units"
)

func (r *Report) holCharts() {
	for _, f := range r.Families {
		ch := &plot.Chart{
			Family:  "hol",
			File:    "hol-" + safeName(strings.Join(f.Scenarios, "+")) + ".png",
			WidthIn: 10, HeightIn: 5.625, Cols: 1,
		}
		p := plot.Panel{YLabel: "cheap-request p99 (ms, log scale)", YLog: true}
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
			p.XTicks = append(p.XTicks, plot.Tick{Value: x, Label: label + "\n" + f.Scenarios[i]})
		}
		span := f.X[len(f.X)-1] - f.X[0]
		p.XFixed, p.XMin, p.XMax = true, f.X[0]-0.08*span, f.X[len(f.X)-1]+0.08*span
		for _, m := range r.Models {
			ser := plot.Series{Name: m, Key: m, Line: true}
			for i, sc := range f.Scenarios {
				if g := r.Group(m, sc, f.Rate); g != nil && g.Victim.OK() {
					addLatency(&p, &ser, f.X[i], g.Victim.P99, g)
				}
			}
			if len(ser.Points) > 0 {
				p.Series = append(p.Series, ser)
				ch.Legend = append(ch.Legend, modelEntry(m, ""))
			}
		}
		ch.Panels = []plot.Panel{p}
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
