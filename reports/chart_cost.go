package reports

// Chart family "cost": peak memory and OS threads against concurrency, CPU
// time per 1000 requests, and the sentences that say what they show.

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/units"
)

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
	mem := &plot.Chart{
		Family: "cost", File: "cost-memory.png",
		Title:   "Cost of the model: peak memory and OS threads against concurrency (every scenario and rate)",
		WidthIn: 14, HeightIn: 5.5, Cols: 2,
	}
	rss := plot.Panel{Title: "peak RSS", XLabel: xLabel, YLabel: "peak RSS (MiB, log scale)", XLog: true, YLog: true}
	thr := plot.Panel{Title: "peak OS threads", XLabel: xLabel, YLabel: "OS threads (log scale)", XLog: true, YLog: true}
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
		sr := plot.Series{Name: m, Key: m, Line: true}
		st := plot.Series{Name: m, Key: m, Line: true}
		for _, g := range gs {
			x := xOf(g).Med
			if g.PeakRSS.OK() {
				sr.Points = append(sr.Points, plot.Point{X: x, Y: g.PeakRSS.Med / (1 << 20), Lo: g.PeakRSS.Min / (1 << 20), Hi: g.PeakRSS.Max / (1 << 20), Invalid: g.Invalid, Failed: g.Invalid && g.ServerFailed()})
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
		mem.Panels = []plot.Panel{rss, thr}
		chartDecor(mem)
		mem.Sentences = r.memorySentences(xOf, byInFlight)
		r.Charts = append(r.Charts, mem)
	}

	cpu := &plot.Chart{
		Family: "cost", File: "cost-cpu.png",
		Title:   "Cost of the model: server CPU time per 1000 requests (each scenario at its reference rate)",
		WidthIn: 10, HeightIn: 5.625, Cols: 1,
	}
	p := plot.Panel{XLabel: "scenario (reference rate)", YLabel: "CPU ms per 1000 requests (log scale)", YLog: true}
	for _, s := range r.Scenarios {
		p.Categories = append(p.Categories, s.Name+"\n"+units.Rate(s.RefRate))
	}
	for _, m := range r.Models {
		ser := plot.Series{Name: m, Key: m, Bars: true}
		for i, s := range r.Scenarios {
			if g := r.Group(m, s.Name, s.RefRate); g != nil && g.CPUPer1k.OK() {
				ser.Points = append(ser.Points, pointOf(float64(i), g.CPUPer1k, g))
			}
		}
		if len(ser.Points) > 0 {
			p.Series = append(p.Series, ser)
			cpu.Legend = append(cpu.Legend, plot.LegendEntry{Label: m, Key: m, Bar: true})
		}
	}
	if len(p.Series) == 0 {
		r.Omitted = append(r.Omitted, Omission{Family: "cost", Title: "Cost of the model: CPU time",
			Reason: "no cell recorded the server's CPU time"})
		return
	}
	cpu.Panels = []plot.Panel{p}
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
