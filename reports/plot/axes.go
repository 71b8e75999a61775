package plot

// Axis ranges and ticks: padded data ranges, the log axis with 1-2-5 or
// power-of-ten labels, and linear ticks without trailing zeros.

import (
	"math"

	gplot "gonum.org/v1/plot"

	"github.com/concbench/concbench/units"
)

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
func logAxis(lo, hi float64) (float64, float64, gplot.Ticker) {
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
	ticker := gplot.TickerFunc(func(min, max float64) []gplot.Tick {
		var ts []gplot.Tick
		for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
			base := math.Pow(10, e)
			for k := 1; k <= 9; k++ {
				v := float64(k) * base
				if v < min*(1-1e-9) || v > max*(1+1e-9) {
					continue
				}
				t := gplot.Tick{Value: v}
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

func (ct cleanTicks) Ticks(min, max float64) []gplot.Tick {
	ts := gplot.DefaultTicks{}.Ticks(min, max)
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
