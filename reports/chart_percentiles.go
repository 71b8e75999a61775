package reports

// Chart family "percentiles": latency by percentile, one chart per scenario
// and class at its reference rate, and the sentences that say what it shows.

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/units"
)

// levels are the percentiles of the spectrum, drawn on the plot.Nines axis.
var levels = []float64{0.5, 0.9, 0.99, 0.999, 0.9999}

func (r *Report) percentileCharts() {
	for _, s := range r.Scenarios {
		gs := r.groupsAt(s.Name, s.RefRate)
		for _, cl := range s.Mix {
			ch := &plot.Chart{
				Family: "percentiles",
				File:   "percentiles-" + safeName(s.Name) + "-" + safeName(cl.Name) + ".png",
				Title: fmt.Sprintf("%s: %s requests (%s, %s) by percentile at %s",
					s.Name, cl.Name, cl.Target, classKind(cl.Heavy), units.Rate(s.RefRate)),
				WidthIn: 10, HeightIn: 5.625, Cols: 1,
			}
			p := plot.Panel{
				XLabel: "percentile (log scale of 1/(1−p): number of nines)",
				YLabel: "response time (ms, log scale)",
				XTicks: plot.NinesTicks, XFixed: true, XMin: 0.15, XMax: 4.15, YLog: true,
			}
			for _, g := range gs {
				cf := g.Class(cl.Name)
				if cf == nil || !cf.Response.OK() {
					continue
				}
				ser := plot.Series{Name: g.Model, Key: g.Model, Line: true}
				for i, q := range levels {
					if st := cf.Response.at(i); st.OK() {
						addLatency(&p, &ser, plot.Nines(q), st, g)
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
			ch.Panels = []plot.Panel{p}
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
		out = append(out, fmt.Sprintf("At %s, %s (%s) p99 was %s (%s).", at, class, classKind(heavy), msText(v.cf.Response.P99), v.g.Model))
	default:
		lo := slices.MinFunc(valid, func(a, b row) int { return cmp.Compare(a.cf.Response.P99.Med, b.cf.Response.P99.Med) })
		hi := slices.MaxFunc(valid, func(a, b row) int { return cmp.Compare(a.cf.Response.P99.Med, b.cf.Response.P99.Med) })
		out = append(out, fmt.Sprintf("At %s, %s (%s) p99 ranged from %s (%s) to %s (%s).", at, class, classKind(heavy),
			msText(lo.cf.Response.P99), lo.g.Model, msText(hi.cf.Response.P99), hi.g.Model))
	}
	valid = slices.DeleteFunc(valid, func(v row) bool { return v.cf.Response.P999.Few })
	if len(valid) > 0 {
		tail := func(v row) float64 { return v.cf.Response.P999.Med / math.Max(v.cf.Response.P50.Med, 1e-3) }
		w := slices.MaxFunc(valid, func(a, b row) int { return cmp.Compare(tail(a), tail(b)) })
		if tail(w) >= 5 {
			out = append(out, fmt.Sprintf("%s had the longest tail: p50 %s but p99.9 %s (%s).", w.g.Model,
				msText(w.cf.Response.P50), msText(w.cf.Response.P999), units.Factor(tail(w))))
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
