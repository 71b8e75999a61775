package reports

// Chart family "timeline": every second of one repetition per model, and
// the sentences that say what it shows.

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

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
			ch := &plot.Chart{
				Family:  "timeline",
				File:    "timeline-" + safeName(s.Name) + "-r" + safeName(units.Num(rate)) + ".png",
				Title:   fmt.Sprintf("%s at %s: every second of the measured window (one repetition per model)", s.Name, units.Rate(rate)),
				WidthIn: 13, HeightIn: 9, Cols: 2,
			}
			panels := []plot.Panel{
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
					ser := plot.Series{Name: pk.g.Model, Key: pk.g.Model, Line: true}
					for _, sec := range pk.c.Timeline {
						if v, ok := f(sec); ok {
							ser.Points = append(ser.Points, plot.Point{X: float64(sec.T), Y: v, Lo: v, Hi: v, Invalid: inv, Failed: failed})
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
