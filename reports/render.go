package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"strings"

	"github.com/concbench/concbench/units"
	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Type sizes, in points (at DPI 96, 10 pt is 13 pixels).
const (
	titleSize  = 15
	panelSize  = 12.5
	labelSize  = 12
	tickSize   = 11
	legendSize = 11.5
	noteSize   = 12
)

// sans is the typeface of every chart (Liberation Sans, embedded by gonum):
// plain shapes read better on screen than the default serif.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

var (
	grey      = color.RGBA{0x9E, 0x9E, 0x9E, 0xFF}
	gridColor = color.RGBA{0xE4, 0xE4, 0xE4, 0xFF}
)

// RenderPNG draws c as a PNG of c.Size() pixels. It is safe for concurrent
// use with other charts.
func RenderPNG(c *Chart) (out []byte, err error) {
	defer func() {
		// gonum panics on impossible ranges; a report must say which chart failed.
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("chart %s: %v", c.File, p)
		}
	}()
	w, h := vg.Length(c.WidthIn)*vg.Inch, vg.Length(c.HeightIn)*vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	pad := vg.Points(8)

	// Title, wrapped to the width.
	ts := textStyle(titleSize)
	ts.Font.Weight = xfont.WeightBold
	ts.XAlign, ts.YAlign = draw.XLeft, draw.YTop
	title := wrap(ts, c.Title, w-2*pad)
	dc.FillText(ts, vg.Point{X: pad, Y: h - pad}, title)
	top := ts.Height(title) + 3*pad

	// Legend in a strip on the right, outside the data.
	leg := plot.NewLegend()
	leg.TextStyle = textStyle(legendSize)
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = vg.Points(28)
	leg.Padding = vg.Points(4)
	var legW vg.Length
	for _, e := range c.Legend {
		leg.Add(e.Label, thumb(e))
		legW = max(legW, leg.TextStyle.Width(" "+e.Label))
	}
	if len(c.Legend) > 0 {
		legW += leg.ThumbnailWidth + 2*pad
		leg.Draw(draw.Crop(dc, w-legW, -pad, pad, -top-vg.Points(10)))
	}

	area := draw.Crop(dc, pad, -legW-pad, pad, -top)
	cols := max(c.Cols, 1)
	rows := (len(c.Panels) + cols - 1) / cols
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14)}
	for i := range c.Panels {
		p, err := panelPlot(&c.Panels[i])
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", c.File, err)
		}
		p.Draw(tiles.At(area, i%cols, i/cols))
	}
	// BestSpeed: half the time of the default level (PNG encoding dominates
	// rendering) for files about a third larger.
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img.Image()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func textStyle(size float64) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(sans, vg.Points(size)),
		Handler: plot.DefaultTextHandler,
	}
}

// wrap breaks s into lines no wider than width.
func wrap(sty text.Style, s string, width vg.Length) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if line != "" && sty.Width(try) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		line = try
	}
	return strings.Join(append(lines, line), "\n")
}

func dashes(d Dash) []vg.Length {
	switch d {
	case Dashed:
		return []vg.Length{vg.Points(7), vg.Points(4)}
	case Dotted:
		return []vg.Length{vg.Points(1.5), vg.Points(3)}
	}
	return nil
}

// panelPlot makes the gonum plot of one panel.
func panelPlot(p *Panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.Title.TextStyle.Font = font.From(sans, vg.Points(panelSize))
	pl.Title.TextStyle.Font.Weight = xfont.WeightBold
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, p.YLabel
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		a.Label.TextStyle.Font = font.From(sans, vg.Points(labelSize))
		a.Tick.Label.Font = font.From(sans, vg.Points(tickSize))
		a.Padding = vg.Points(2)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	pl.Add(grid)

	nbars := 0
	for _, s := range p.Series {
		if s.Bars {
			nbars++
		}
	}
	bar := 0
	xr, yr := newRange(), newRange()
	for i := range p.Series {
		s := &p.Series[i]
		sp := &seriesPlotter{s: s, xlog: p.XLog, ylog: p.YLog}
		if s.Bars {
			sp.bar, sp.nbars = bar, nbars
			bar++
		}
		for _, pt := range s.Points {
			x := pt.X
			if s.Bars {
				x = sp.barX(pt.X)
			}
			xr.add(x, p.XLog)
			for _, y := range []float64{pt.Y, pt.Lo, pt.Hi} {
				yr.add(y, p.YLog)
			}
		}
		pl.Add(sp)
	}
	for _, m := range p.Marks {
		xr.add(m.X, p.XLog)
		yr.add(m.Y, p.YLog)
	}
	empty := xr.empty() || yr.empty()

	// x range
	switch {
	case len(p.Categories) > 0:
		pl.X.Min, pl.X.Max = -0.5, float64(len(p.Categories))-0.5
		var ticks []plot.Tick
		for i, c := range p.Categories {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: c})
		}
		pl.X.Tick.Marker = plot.ConstantTicks(ticks)
	case p.XFixed:
		pl.X.Min, pl.X.Max = p.XMin, p.XMax
	case empty:
		pl.X.Min, pl.X.Max = 0, 1
	default:
		pl.X.Min, pl.X.Max = xr.padded(p.XLog, false)
		pl.X.Tick.Marker = cleanTicks{}
	}
	if p.XLog && !empty && len(p.Categories) == 0 {
		pl.X.Scale = plot.LogScale{}
		pl.X.Min, pl.X.Max, pl.X.Tick.Marker = logAxis(pl.X.Min, pl.X.Max)
	}
	if len(p.XTicks) > 0 {
		var ticks []plot.Tick
		for _, t := range p.XTicks {
			ticks = append(ticks, plot.Tick{Value: t.Value, Label: t.Label})
		}
		pl.X.Tick.Marker = plot.ConstantTicks(ticks)
	}

	// y range
	switch {
	case empty:
		pl.Y.Min, pl.Y.Max = 0, 1
	case p.YLog:
		pl.Y.Scale = plot.LogScale{}
		lo, hi := yr.padded(true, false)
		pl.Y.Min, pl.Y.Max, pl.Y.Tick.Marker = logAxis(lo, hi)
	default:
		pl.Y.Min, pl.Y.Max = yr.padded(false, p.YFromZero || nbars > 0)
		pl.Y.Tick.Marker = cleanTicks{integer: p.YInteger}
	}
	if p.RefLine && !empty {
		pl.Add(refLine{})
	}
	if len(p.Marks) > 0 {
		pl.Add(marks{p.Marks})
	}
	if empty {
		note := p.Note
		if note == "" {
			note = "no data"
		}
		pl.Add(noteText(note))
	}
	return pl, nil
}

// dataRange accumulates finite (and, on log axes, positive) values.
type dataRange struct{ lo, hi float64 }

func newRange() *dataRange { return &dataRange{math.Inf(1), math.Inf(-1)} }

func (r *dataRange) add(v float64, log bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || (log && v <= 0) {
		return
	}
	r.lo, r.hi = math.Min(r.lo, v), math.Max(r.hi, v)
}

func (r *dataRange) empty() bool { return r.lo > r.hi }

// padded returns the range with room around the data.
func (r *dataRange) padded(log, fromZero bool) (float64, float64) {
	lo, hi := r.lo, r.hi
	if log {
		if hi/lo < 1.01 {
			return lo / 2, hi * 2
		}
		return lo / 1.35, hi * 1.35
	}
	if fromZero && lo >= 0 {
		lo = 0
	}
	span := hi - lo
	if span == 0 && hi == 0 {
		return 0, 1 // nothing but zeros (no errors): a unit axis
	}
	if span == 0 {
		span = math.Max(math.Abs(hi), 1)
		if !fromZero || lo != 0 {
			lo -= span * 0.1
		}
	} else if !(fromZero && lo == 0) {
		lo -= span * 0.06
	}
	return lo, hi + span*0.1
}

// logAxis widens [lo, hi] so that at least two labelled ticks show, and
// returns the ticker: 1-2-5 labels over short ranges, powers of ten over long.
func logAxis(lo, hi float64) (float64, float64, plot.Ticker) {
	decades := math.Log10(hi / lo)
	steps := []float64{1}
	switch {
	case decades <= 0.45:
		steps = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	case decades <= 1.2:
		steps = []float64{1, 2, 5}
	case decades <= 3.3:
		steps = []float64{1, 3}
	}
	labelled := func() []float64 {
		var vs []float64
		for e := math.Floor(math.Log10(lo)) - 1; e <= math.Ceil(math.Log10(hi))+1; e++ {
			for _, s := range steps {
				vs = append(vs, s*math.Pow(10, e))
			}
		}
		return vs
	}
	var in []float64
	all := labelled()
	for _, v := range all {
		if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
			in = append(in, v)
		}
	}
	if len(in) < 2 {
		// Widen to the labelled values around the data.
		for i := len(all) - 1; i >= 0; i-- {
			if all[i] <= lo {
				lo = all[i]
				break
			}
		}
		for _, v := range all {
			if v >= hi {
				hi = v
				break
			}
		}
	}
	ticker := plot.TickerFunc(func(min, max float64) []plot.Tick {
		var ts []plot.Tick
		for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
			base := math.Pow(10, e)
			for k := 1; k <= 9; k++ {
				v := float64(k) * base
				if v < min*(1-1e-9) || v > max*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: v}
				for _, s := range steps {
					if float64(k) == s {
						t.Label = units.Tick(v)
					}
				}
				ts = append(ts, t)
			}
		}
		return ts
	})
	return lo, hi, ticker
}

// cleanTicks are gonum's default linear ticks labelled without trailing zeros
// ("50", not "50.00").
// With integer set, only whole numbers are labelled (counts of requests).
type cleanTicks struct{ integer bool }

func (ct cleanTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		ts[i].Label = units.Tick(ts[i].Value)
		if ct.integer && ts[i].Value != math.Trunc(ts[i].Value) {
			ts[i].Label = ""
		}
	}
	return ts
}

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
func clamp(v float64, log bool, a plot.Axis) float64 {
	if log && v <= 0 {
		return a.Min
	}
	return v
}

func (sp *seriesPlotter) Plot(c draw.Canvas, plt *plot.Plot) {
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
			sp.errBar(&c, at, x, pt, styleOf(keyBlack).color)
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
		if e.Key == keyInvalid || e.Key == keyRef {
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

func (m marks) Plot(c draw.Canvas, plt *plot.Plot) {
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

func (refLine) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	lo, hi := math.Max(plt.X.Min, plt.Y.Min), math.Min(plt.X.Max, plt.Y.Max)
	if !(hi > lo) {
		return
	}
	ls := draw.LineStyle{Color: styleOf(keyRef).color, Width: vg.Points(1.4), Dashes: dashes(Dashed)}
	c.StrokeLines(ls, c.ClipLinesXY([]vg.Point{{X: trX(lo), Y: trY(lo)}, {X: trX(hi), Y: trY(hi)}})...)
}

// noteText writes a message in the middle of an empty panel.
type noteText string

func (n noteText) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := textStyle(noteSize)
	sty.Color = color.RGBA{0x60, 0x60, 0x60, 0xFF}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), string(n))
}
