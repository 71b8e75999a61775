package reports

// Chart family "redos": time per /regex request against input length for
// both engines, and the sentences that say what it shows.

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/units"
	"github.com/concbench/concbench/workloads"
)

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
			if perr != nil || req.Timeout > 0 || req.Reps > 1 {
				continue // a match cut short by its timeout, or reps of them, is not the time per match
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
			Reason: "no heavy class of this run targets /regex with one unbounded match per request (timeout_ms cuts a match short, reps repeats it), so there is no match time to plot"})
		return
	}
	ch := &plot.Chart{
		Family:  "redos",
		File:    "redos.png",
		Title:   "ReDoS: time per /regex request vs input length, " + workloads.Pattern + ` on "a"×n+"!"`,
		WidthIn: 10, HeightIn: 5.625, Cols: 1,
	}
	p := plot.Panel{XLabel: "input length n (characters)", YLabel: "service time p50 (ms, log scale)", YLog: true}
	var ns []int
	for _, e := range []workloads.Engine{workloads.EngineBacktrack, workloads.EngineRE2} {
		key, name := "backtrack", "backtracking (regexp2)"
		if e == workloads.EngineRE2 {
			key, name = "re2", "RE2 (Go regexp)"
		}
		ser := plot.Series{Name: name, Key: key, Line: true}
		if e == workloads.EngineRE2 {
			ser.Dash = plot.Dashed
		}
		for _, pt := range pts {
			if pt.engine == e {
				ser.Points = append(ser.Points, plot.Point{X: float64(pt.n), Y: pt.service.Med, Lo: pt.service.Min, Hi: pt.service.Max, Invalid: pt.invalid, Failed: pt.failed})
				if !slices.Contains(ns, pt.n) {
					ns = append(ns, pt.n)
				}
			}
		}
		if len(ser.Points) > 0 {
			p.Series = append(p.Series, ser)
			ch.Legend = append(ch.Legend, plot.LegendEntry{Label: name, Key: key, Dash: ser.Dash, Line: true, Glyph: true})
		}
	}
	slices.Sort(ns)
	for _, n := range ns {
		p.XTicks = append(p.XTicks, plot.Tick{Value: float64(n), Label: units.Num(float64(n))})
	}
	p.XFixed, p.XMin, p.XMax = true, float64(ns[0])-1, float64(ns[len(ns)-1])+1
	ch.Panels = []plot.Panel{p}
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
