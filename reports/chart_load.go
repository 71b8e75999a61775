package reports

// Chart family "load": latency and achieved throughput against offered load,
// the knee, and the sentences that say what they show.

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/units"
)

func (r *Report) loadCharts() {
	multi := false
	for _, s := range r.Scenarios {
		if len(s.Rates) < 2 {
			continue
		}
		multi = true
		ch := &plot.Chart{
			Family:  "load",
			File:    "load-" + safeName(s.Name) + ".png",
			Title:   fmt.Sprintf("%s: latency of cheap requests and achieved throughput vs offered load", s.Name),
			WidthIn: 14, HeightIn: 5.5, Cols: 2,
		}
		xlog := s.Rates[len(s.Rates)-1]/s.Rates[0] >= 10
		lat := plot.Panel{Title: "cheap-request response time (worst cheap class)", XLabel: "offered load (req/s)", YLabel: "response time (ms, log scale)", YLog: true, XLog: xlog}
		thr := plot.Panel{Title: "achieved vs offered", XLabel: "offered load (req/s)", YLabel: "achieved (req/s)", XLog: xlog, YLog: xlog, RefLine: true, YFromZero: !xlog}
		var rateTicks []plot.Tick
		for _, rate := range s.Rates {
			rateTicks = append(rateTicks, plot.Tick{Value: rate, Label: units.Num(rate)})
		}
		lat.XTicks, thr.XTicks = rateTicks, rateTicks
		pcts := []struct {
			name string
			dash plot.Dash
			get  func(Percentiles) Stat
		}{
			{"p50", plot.Dotted, func(p Percentiles) Stat { return p.P50 }},
			{"p99", plot.Solid, func(p Percentiles) Stat { return p.P99 }},
			{"p99.9", plot.Dashed, func(p Percentiles) Stat { return p.P999 }},
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
				ser := plot.Series{Name: m + " " + pc.name, Key: m, Dash: pc.dash, Line: true}
				for _, g := range gs {
					addLatency(&lat, &ser, g.Rate, pc.get(g.Victim), g)
				}
				lat.Series = append(lat.Series, ser)
			}
			ach := plot.Series{Name: m + " achieved", Key: m, Line: true}
			for _, g := range gs {
				ach.Points = append(ach.Points, pointOf(g.Rate, g.Achieved, g))
			}
			thr.Series = append(thr.Series, ach)
			if k := r.Knee(m, s.Name); k.Met {
				g := r.Group(m, s.Name, k.Rate)
				lat.Marks = append(lat.Marks, plot.Mark{Key: m, X: k.Rate, Y: g.Victim.P99.Med})
			}
			ch.Legend = append(ch.Legend, modelEntry(m, ""))
		}
		ch.Legend = append(ch.Legend,
			plot.LegendEntry{Label: "p50", Key: plot.KeyBlack, Dash: plot.Dotted, Line: true},
			plot.LegendEntry{Label: "p99", Key: plot.KeyBlack, Dash: plot.Solid, Line: true},
			plot.LegendEntry{Label: "p99.9", Key: plot.KeyBlack, Dash: plot.Dashed, Line: true},
			plot.LegendEntry{Label: "knee (SLO met)", Key: plot.KeyBlack, Ring: true},
			plot.LegendEntry{Label: "achieved = offered", Key: plot.KeyRef, Dash: plot.Dashed, Line: true},
		)
		ch.Panels = []plot.Panel{lat, thr}
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
