package plot

import "testing"

func TestLogAxis(t *testing.T) {
	for _, tc := range []struct{ lo, hi float64 }{{0.42, 0.61}, {0.2, 80}, {1, 5000}, {47, 52}} {
		lo, hi, ticker := logAxis(tc.lo, tc.hi)
		if lo > tc.lo || hi < tc.hi {
			t.Errorf("logAxis(%g, %g) narrowed the range to [%g, %g]", tc.lo, tc.hi, lo, hi)
		}
		labelled := 0
		for _, tk := range ticker.Ticks(lo, hi) {
			if tk.Label != "" && tk.Value >= lo && tk.Value <= hi {
				labelled++
			}
		}
		if labelled < 2 {
			t.Errorf("logAxis(%g, %g) = [%g, %g] with %d labelled ticks; want at least 2", tc.lo, tc.hi, lo, hi, labelled)
		}
	}
}

// TestRenderEmptyPanel draws panels with nothing (or nothing positive) on log
// axes: gonum panics on those, the renderer must not.
func TestRenderEmptyPanel(t *testing.T) {
	c := &Chart{File: "empty.png", Title: "empty", WidthIn: 4, HeightIn: 3, Cols: 2, Panels: []Panel{
		{Title: "nothing", YLog: true, XLog: true, Note: "no data here"},
		{Title: "zeros", YLog: true, Series: []Series{{Key: "eventloop", Line: true, Points: []Point{{X: 1, Y: 0}, {X: 2, Y: 0}}}}},
	}}
	b, err := RenderPNG(c)
	if err != nil || len(b) == 0 {
		t.Fatalf("RenderPNG(empty panels) = %d bytes, %v", len(b), err)
	}
}
