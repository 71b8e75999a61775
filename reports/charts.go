package reports

// What every chart family shares: legend entries, points of a group's figures,
// the invalid and spread decorations. Each family is in its own chart_*.go with
// the sentences that describe it; the chart model and its drawing are in
// reports/plot.

import (
	"fmt"

	"github.com/concbench/concbench/reports/plot"
)

func invalidEntry(label string) plot.LegendEntry {
	return plot.LegendEntry{Label: label, Key: plot.KeyInvalid, Dash: plot.Dashed, Line: true, Glyph: true, Hollow: true}
}

func modelEntry(model, label string) plot.LegendEntry {
	if label == "" {
		label = model
	}
	return plot.LegendEntry{Label: label, Key: model, Line: true, Glyph: true}
}

// invalidModelEntry is the legend entry of a model drawn grey because all of
// its figures in the chart are invalid.
func invalidModelEntry(label string) plot.LegendEntry {
	return plot.LegendEntry{Label: label, Key: plot.KeyInvalid, Dash: plot.Dashed, Line: true, Glyph: true, Hollow: true}
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
func pointOf(x float64, s Stat, g *Group) plot.Point {
	return plot.Point{X: x, Y: s.Med, Lo: s.Min, Hi: s.Max, Invalid: g.Invalid, Failed: g.Invalid && g.ServerFailed()}
}

// addLatency appends latency figure s of g at x to ser, unless a repetition
// had too few values to read it (Stat.Few: a p99.9 of 50 values is their
// maximum, not a tail, and is not drawn); a lower bound (Stat.Lower) is
// drawn with a "≥" mark on p.
func addLatency(p *plot.Panel, ser *plot.Series, x float64, s Stat, g *Group) {
	if s.Few {
		return
	}
	ser.Points = append(ser.Points, pointOf(x, s, g))
	if s.Lower {
		p.Marks = append(p.Marks, plot.Mark{Key: g.Model, X: x, Y: s.Med, Label: "≥"})
	}
}

// chartDecor adds the invalid and spread legend entries the chart needs.
func chartDecor(ch *plot.Chart) {
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
		ch.Legend = append(ch.Legend, plot.LegendEntry{Label: "min–max over reps", Key: plot.KeyBlack, ErrBar: true})
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
