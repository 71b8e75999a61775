package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"strings"

	xfont "golang.org/x/image/font"
	gplot "gonum.org/v1/plot"
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
	leg := gplot.NewLegend()
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
		Handler: gplot.DefaultTextHandler,
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
func panelPlot(p *Panel) (*gplot.Plot, error) {
	pl := gplot.New()
	pl.Title.Text = p.Title
	pl.Title.TextStyle.Font = font.From(sans, vg.Points(panelSize))
	pl.Title.TextStyle.Font.Weight = xfont.WeightBold
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, p.YLabel
	for _, a := range []*gplot.Axis{&pl.X, &pl.Y} {
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
		var ticks []gplot.Tick
		for i, c := range p.Categories {
			ticks = append(ticks, gplot.Tick{Value: float64(i), Label: c})
		}
		pl.X.Tick.Marker = gplot.ConstantTicks(ticks)
	case p.XFixed:
		pl.X.Min, pl.X.Max = p.XMin, p.XMax
	case empty:
		pl.X.Min, pl.X.Max = 0, 1
	default:
		pl.X.Min, pl.X.Max = xr.padded(p.XLog, false)
		pl.X.Tick.Marker = cleanTicks{}
	}
	if p.XLog && !empty && len(p.Categories) == 0 {
		pl.X.Scale = gplot.LogScale{}
		pl.X.Min, pl.X.Max, pl.X.Tick.Marker = logAxis(pl.X.Min, pl.X.Max)
	}
	if len(p.XTicks) > 0 {
		var ticks []gplot.Tick
		for _, t := range p.XTicks {
			ticks = append(ticks, gplot.Tick{Value: t.Value, Label: t.Label})
		}
		pl.X.Tick.Marker = gplot.ConstantTicks(ticks)
	}

	// y range
	switch {
	case empty:
		pl.Y.Min, pl.Y.Max = 0, 1
	case p.YLog:
		pl.Y.Scale = gplot.LogScale{}
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
