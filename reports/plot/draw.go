package plot

// The gonum plotters of a panel: series (lines, spread bars, glyphs, bars),
// legend samples, knee marks, the y = x reference line and notes.

import (
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// seriesPlotter draws one Series: segments, spread bars, glyphs or bars.
type seriesPlotter struct {
	s          *Series
	xlog, ylog bool
	bar, nbars int
}

const barGroupWidth = 0.8

func (sp *seriesPlotter) barX(cat float64) float64 {
	w := barGroupWidth / float64(sp.nbars)
	return cat - barGroupWidth/2 + w*(float64(sp.bar)+0.5)
}

// clamp keeps a value drawable on a log axis.
func clamp(v float64, log bool, a gplot.Axis) float64 {
	if log && v <= 0 {
		return a.Min
	}
	return v
}

func (sp *seriesPlotter) Plot(c draw.Canvas, plt *gplot.Plot) {
	trX, trY := plt.Transforms(&c)
	st := styleOf(sp.s.Key)
	at := func(x, y float64) vg.Point {
		return vg.Point{X: trX(clamp(x, sp.xlog, plt.X)), Y: trY(clamp(y, sp.ylog, plt.Y))}
	}
	ok := func(pt Point) bool { return !math.IsNaN(pt.Y) && !(sp.ylog && pt.Y <= 0) }
	pts := sp.s.Points

	if sp.s.Bars {
		w := barGroupWidth / float64(sp.nbars)
		for _, pt := range pts {
			if !ok(pt) {
				continue
			}
			x := sp.barX(pt.X)
			base := plt.Y.Min
			if !sp.ylog && base < 0 {
				base = 0
			}
			a, b := at(x-w*0.45, base), at(x+w*0.45, pt.Y)
			rect := c.ClipPolygonXY([]vg.Point{{X: a.X, Y: a.Y}, {X: b.X, Y: a.Y}, {X: b.X, Y: b.Y}, {X: a.X, Y: b.Y}})
			if pt.Invalid {
				c.FillPolygon(color.RGBA{0xEE, 0xEE, 0xEE, 0xFF}, rect)
				c.StrokeLines(draw.LineStyle{Color: grey, Width: vg.Points(1.2), Dashes: dashes(Dashed)}, closeLoop(rect))
			} else {
				c.FillPolygon(st.color, rect)
			}
			sp.errBar(&c, at, x, pt, styleOf(KeyBlack).color)
		}
		return
	}

	if sp.s.Line {
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			if !ok(a) || !ok(b) {
				continue
			}
			ls := draw.LineStyle{Color: st.color, Width: vg.Points(2.2), Dashes: dashes(sp.s.Dash)}
			if a.Invalid || b.Invalid {
				ls = draw.LineStyle{Color: grey, Width: vg.Points(1.4), Dashes: dashes(Dashed)}
			}
			c.StrokeLines(ls, c.ClipLinesXY([]vg.Point{at(a.X, a.Y), at(b.X, b.Y)})...)
		}
	}
	for _, pt := range pts {
		if ok(pt) {
			sp.errBar(&c, at, pt.X, pt, st.color)
		}
	}
	for _, pt := range pts {
		if !ok(pt) {
			continue
		}
		p := at(pt.X, pt.Y)
		if !c.Contains(p) {
			continue
		}
		if pt.Invalid {
			drawGlyph(&c, "ring", grey, p, vg.Points(4.5))
		} else {
			drawGlyph(&c, st.glyph, st.color, p, vg.Points(4))
		}
	}
}

func closeLoop(pts []vg.Point) []vg.Point {
	if len(pts) == 0 {
		return pts
	}
	return append(append([]vg.Point(nil), pts...), pts[0])
}

// errBar draws the repetitions' min–max spread of a point.
func (sp *seriesPlotter) errBar(c *draw.Canvas, at func(x, y float64) vg.Point, x float64, pt Point, col color.Color) {
	if !(pt.Hi > pt.Lo) || math.IsNaN(pt.Lo) {
		return
	}
	if pt.Invalid {
		col = grey
	}
	lo, hi := at(x, pt.Lo), at(x, pt.Hi)
	ls := draw.LineStyle{Color: col, Width: vg.Points(1.2)}
	capW := vg.Points(3.5)
	c.StrokeLines(ls, c.ClipLinesXY(
		[]vg.Point{lo, hi},
		[]vg.Point{{X: lo.X - capW, Y: lo.Y}, {X: lo.X + capW, Y: lo.Y}},
		[]vg.Point{{X: hi.X - capW, Y: hi.Y}, {X: hi.X + capW, Y: hi.Y}},
	)...)
}

func (sp *seriesPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xr, yr := newRange(), newRange()
	for _, pt := range sp.s.Points {
		x := pt.X
		if sp.s.Bars {
			x = sp.barX(pt.X)
		}
		xr.add(x, sp.xlog)
		for _, y := range []float64{pt.Y, pt.Lo, pt.Hi} {
			yr.add(y, sp.ylog)
		}
	}
	return xr.lo, xr.hi, yr.lo, yr.hi
}

// drawGlyph draws a marker; "ring" is the hollow marker of invalid figures.
func drawGlyph(c *draw.Canvas, shape string, col color.Color, pt vg.Point, r vg.Length) {
	c.SetColor(col)
	c.SetLineWidth(vg.Points(1.8))
	c.SetLineDash(nil, 0)
	var p vg.Path
	poly := func(pts ...vg.Point) {
		p.Move(pts[0])
		for _, q := range pts[1:] {
			p.Line(q)
		}
		p.Close()
	}
	switch shape {
	case "ring":
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
		p.Close()
		c.Stroke(p)
		return
	case "cross", "plus":
		r *= 1.15
		if shape == "cross" {
			p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
			p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
			p.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
			p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
		} else {
			p.Move(vg.Point{X: pt.X - r, Y: pt.Y})
			p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
			p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
			p.Line(vg.Point{X: pt.X, Y: pt.Y + r})
		}
		c.SetLineWidth(vg.Points(2.4))
		c.Stroke(p)
		return
	case "square":
		r *= 0.9
		poly(vg.Point{X: pt.X - r, Y: pt.Y - r}, vg.Point{X: pt.X + r, Y: pt.Y - r}, vg.Point{X: pt.X + r, Y: pt.Y + r}, vg.Point{X: pt.X - r, Y: pt.Y + r})
	case "triangle":
		r *= 1.2
		poly(vg.Point{X: pt.X, Y: pt.Y + r}, vg.Point{X: pt.X + r*0.87, Y: pt.Y - r/2}, vg.Point{X: pt.X - r*0.87, Y: pt.Y - r/2})
	case "diamond":
		r *= 1.25
		poly(vg.Point{X: pt.X, Y: pt.Y + r}, vg.Point{X: pt.X + r*0.8, Y: pt.Y}, vg.Point{X: pt.X, Y: pt.Y - r}, vg.Point{X: pt.X - r*0.8, Y: pt.Y})
	default: // circle
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
		p.Close()
	}
	c.Fill(p)
}

// thumb is a legend entry's sample.
type thumb LegendEntry

func (e thumb) Thumbnail(c *draw.Canvas) {
	st := styleOf(e.Key)
	mid := (c.Min.Y + c.Max.Y) / 2
	cx := (c.Min.X + c.Max.X) / 2
	if e.Bar {
		c.FillPolygon(st.color, []vg.Point{{X: c.Min.X + 4, Y: c.Min.Y + 2}, {X: c.Max.X - 4, Y: c.Min.Y + 2}, {X: c.Max.X - 4, Y: c.Max.Y - 2}, {X: c.Min.X + 4, Y: c.Max.Y - 2}})
	}
	if e.Line {
		w := vg.Points(2.2)
		if e.Key == KeyInvalid || e.Key == KeyRef {
			w = vg.Points(1.4)
		}
		c.StrokeLine2(draw.LineStyle{Color: st.color, Width: w, Dashes: dashes(e.Dash)}, c.Min.X, mid, c.Max.X, mid)
	}
	if e.ErrBar {
		ls := draw.LineStyle{Color: st.color, Width: vg.Points(1.2)}
		lo, hi := c.Min.Y+1, c.Max.Y-1
		c.StrokeLine2(ls, cx, lo, cx, hi)
		c.StrokeLine2(ls, cx-3.5, lo, cx+3.5, lo)
		c.StrokeLine2(ls, cx-3.5, hi, cx+3.5, hi)
	}
	if e.Ring {
		c.StrokeLines(draw.LineStyle{Color: st.color, Width: vg.Points(1.6)}, ringPts(vg.Point{X: cx, Y: mid}, vg.Points(6)))
	}
	if e.Glyph {
		if e.Hollow {
			drawGlyph(c, "ring", st.color, vg.Point{X: cx, Y: mid}, vg.Points(4.5))
		} else {
			drawGlyph(c, st.glyph, st.color, vg.Point{X: cx, Y: mid}, vg.Points(4))
		}
	}
}

func ringPts(ctr vg.Point, r vg.Length) []vg.Point {
	var pts []vg.Point
	for i := 0; i <= 32; i++ {
		a := 2 * math.Pi * float64(i) / 32
		pts = append(pts, vg.Point{X: ctr.X + r*vg.Length(math.Cos(a)), Y: ctr.Y + r*vg.Length(math.Sin(a))})
	}
	return pts
}

// marks draws annotated rings, such as knees.
type marks struct{ ms []Mark }

func (m marks) Plot(c draw.Canvas, plt *gplot.Plot) {
	trX, trY := plt.Transforms(&c)
	sty := textStyle(tickSize)
	for _, mk := range m.ms {
		if mk.Y <= 0 || math.IsNaN(mk.Y) {
			continue
		}
		col := styleOf(mk.Key).color
		pt := vg.Point{X: trX(clamp(mk.X, false, plt.X)), Y: trY(mk.Y)}
		c.StrokeLines(draw.LineStyle{Color: col, Width: vg.Points(2)}, ringPts(pt, vg.Points(9)))
		sty.Color = col
		sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
		if mk.Label != "" {
			c.FillText(sty, vg.Point{X: pt.X - vg.Points(8), Y: pt.Y + vg.Points(6)}, mk.Label)
		}
	}
}

// refLine draws y = x over the visible range.
type refLine struct{}

func (refLine) Plot(c draw.Canvas, plt *gplot.Plot) {
	trX, trY := plt.Transforms(&c)
	lo, hi := math.Max(plt.X.Min, plt.Y.Min), math.Min(plt.X.Max, plt.Y.Max)
	if !(hi > lo) {
		return
	}
	ls := draw.LineStyle{Color: styleOf(KeyRef).color, Width: vg.Points(1.4), Dashes: dashes(Dashed)}
	c.StrokeLines(ls, c.ClipLinesXY([]vg.Point{{X: trX(lo), Y: trY(lo)}, {X: trX(hi), Y: trY(hi)}})...)
}

// noteText writes a message in the middle of an empty panel.
type noteText string

func (n noteText) Plot(c draw.Canvas, _ *gplot.Plot) {
	sty := textStyle(noteSize)
	sty.Color = color.RGBA{0x60, 0x60, 0x60, 0xFF}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), string(n))
}
