// Package plot is the chart model of concbench's reports and its renderer:
// a Chart is data (panels, series, points with their spread, legend), and
// RenderPNG draws it with gonum/plot in a fixed palette, so a model has the
// same colour and marker in every chart. The reports package decides what the
// charts show and says it in sentences; this package only draws.
package plot

import "math"

// DPI is the resolution of every PNG. Sizes are in inches, so a 10 in wide
// chart is 960 pixels and 10 pt text is 13 pixels high: legible at 100 %.
const DPI = 96

// Chart is one PNG and what the report says about it. Charts are data: the
// renderer draws them, the golden tests dump them.
type Chart struct {
	// Family is one of percentiles, load, hol, timeline, cost, redos.
	Family string
	// File is the PNG's name in the results directory.
	File  string
	Title string
	// WidthIn and HeightIn are the PNG's size in inches (see DPI).
	WidthIn, HeightIn float64
	// Panels are laid out in Cols columns, row by row.
	Cols   int
	Panels []Panel
	Legend []LegendEntry
	// Sentences state what the chart shows, computed from the run.
	Sentences []string
}

// Size returns the PNG's size in pixels.
func (c *Chart) Size() (w, h int) {
	return int(math.Ceil(c.WidthIn * DPI)), int(math.Ceil(c.HeightIn * DPI))
}

// Panel is one set of axes.
type Panel struct {
	Title          string
	XLabel, YLabel string
	XLog, YLog     bool
	// XTicks, when set, replace automatic ticks on the x axis.
	XTicks []Tick
	// XMin and XMax fix the x range when XFixed.
	XFixed     bool
	XMin, XMax float64
	// YFromZero starts a linear y axis at 0; YInteger labels whole numbers only.
	YFromZero, YInteger bool
	// Categories names the bar groups at x = 0, 1, ...
	Categories []string
	Series     []Series
	Marks      []Mark
	// RefLine draws y = x (achieved = offered).
	RefLine bool
	// Note is written in the panel when it has nothing to draw.
	Note string
}

// Tick is a labelled tick.
type Tick struct {
	Value float64
	Label string
}

// Dash is a line style.
type Dash int

// Line styles.
const (
	Solid Dash = iota
	Dashed
	Dotted
)

// Series is one line, set of points or set of bars.
type Series struct {
	Name string
	// Key selects colour and marker in the fixed palette (a model name,
	// "backtrack", "re2", ...).
	Key  string
	Dash Dash
	// Line connects the points in order; a segment touching an invalid point
	// is drawn grey and dashed.
	Line bool
	// Bars draws each point as a bar at category X, shifted by the series'
	// index among the panel's bar series.
	Bars   bool
	Points []Point
}

// Point is a figure: the median Y with the repetitions' spread [Lo, Hi].
// Invalid points are drawn hollow and grey: generator-bound ones, and those of
// a server that failed (Failed set too), labelled apart.
type Point struct {
	X, Y, Lo, Hi float64
	Invalid      bool
	Failed       bool
}

// Mark is an annotated point, such as a model's knee.
type Mark struct {
	Key   string
	X, Y  float64
	Label string
}

// LegendEntry is one line of a chart's legend.
type LegendEntry struct {
	Label  string
	Key    string
	Dash   Dash
	Line   bool
	Glyph  bool
	Hollow bool
	Bar    bool
	// ErrBar shows the min–max spread marker; Ring the knee marker.
	ErrBar, Ring bool
}

// Nines is q's x on the "number of nines" axis of a percentile spectrum:
// p50 → 0.3, p90 → 1, p99 → 2, p99.9 → 3.
func Nines(q float64) float64 { return -math.Log10(1 - q) }

// NinesTicks label that axis at the usual percentiles.
var NinesTicks = []Tick{{Nines(0.5), "50%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}}
