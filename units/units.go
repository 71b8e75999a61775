// Package units formats the numbers concbench prints: latencies, rates,
// sizes, shares and ratios. It is the only place that does, so a figure reads
// the same in the report, the summary, the terminal and the profile: "52.3 ms",
// "800 req/s", "45 MiB", "1.23 %", "×2.0". A unit is always separated from
// its number by a space (SI style); "–" marks a missing figure (NaN).
//
// compare keeps benchunit's scaling ("2.400ms") on purpose: its tables and
// exports follow benchstat's conventions, which its readers compare against.
package units

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Missing is what a missing (NaN) figure prints as.
const Missing = "–"

// Ms formats a latency in milliseconds with three significant digits:
// 0.0590 ms, 0.423 ms, 4.23 ms, 52.3 ms, 142 ms, 1.42 s.
func Ms(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return Missing
	case ms >= 1000:
		return Sig3(ms/1000) + " s"
	default:
		return Sig3(ms) + " ms"
	}
}

// Duration formats a single duration as Ms does, but in µs below a
// millisecond (a GC pause, a regex match): 15.0 µs, 0.5 µs, 40.0 ms, 2.00 s.
// Figures set side by side in the report use Ms, so that a column or a
// sentence keeps one unit.
func Duration(d time.Duration) string {
	if d > -time.Millisecond && d < time.Millisecond && d != 0 {
		return Sig3(float64(d)/float64(time.Microsecond)) + " µs"
	}
	return Ms(float64(d) / float64(time.Millisecond))
}

// Sig3 formats v with three significant digits and no exponent.
func Sig3(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	dec := 2 - int(math.Floor(math.Log10(a)))
	if dec < 0 {
		dec = 0
	}
	// Rounding may carry into another digit (9.996 → 10.0): recompute once.
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if r, _ := strconv.ParseFloat(s, 64); dec > 0 && math.Abs(r) >= math.Pow10(3-dec) {
		s = strconv.FormatFloat(v, 'f', dec-1, 64)
	}
	return s
}

// Num formats a count-like figure (requests, threads, a rate without its
// unit): integers and anything from 100 up without decimals, others with three
// significant digits and no trailing zeros: 800, 1995, 6.5, 0.25.
func Num(v float64) string {
	if math.IsNaN(v) {
		return Missing
	}
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	s := Sig3(v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Rate formats a request rate: "800 req/s", "12.5 req/s".
func Rate(rps float64) string { return Num(rps) + " req/s" }

// Plain formats v as the shortest decimal that reads back as v, with no
// exponent: 500, 12.5. It is for values that name something (a cell's
// offered rate in its ID, a benchmark name) and must not be rounded.
func Plain(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Pct formats a fraction (0.0123) as a percentage ("1.23 %").
func Pct(frac float64) string {
	p := frac * 100
	switch {
	case math.IsNaN(p):
		return Missing
	case p == 0:
		return "0 %"
	case p < 0.01:
		return "<0.01 %"
	case p < 10:
		return strconv.FormatFloat(p, 'f', 2, 64) + " %"
	default:
		return strconv.FormatFloat(p, 'f', 1, 64) + " %"
	}
}

// Share formats a mix share (0.01 → "1 %", 0.025 → "2.5 %").
func Share(frac float64) string { return Num(frac*100) + " %" }

// Bytes formats a size in the largest binary unit it reaches (B, KiB, MiB,
// GiB), with one decimal under 100 and none above: "512 B", "4.0 KiB",
// "45.2 MiB", "16.0 GiB", "120 MiB". It is for a single size on its own; the
// report's prose compares sizes in MiB (see MiB).
func Bytes(n float64) string {
	if math.IsNaN(n) {
		return Missing
	}
	unit, v := "B", n
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		if math.Abs(v) < 1024 {
			break
		}
		unit, v = u, v/1024
	}
	if unit == "B" || math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// MiB formats a size in MiB whatever its magnitude, so that sizes side by
// side compare at a glance: "0.5 MiB", "4.2 MiB", "45 MiB".
func MiB(bytes float64) string { return MiBNum(bytes) + " MiB" }

// MiBNum is MiB without its unit, for a column headed "MiB": one decimal
// under 10 MiB, none above.
func MiBNum(bytes float64) string {
	v := bytes / (1 << 20)
	if math.Abs(v) < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// Factor formats a ratio: ×2.0, ×37, ×1200.
func Factor(r float64) string {
	if r < 10 {
		return "×" + strconv.FormatFloat(r, 'f', 1, 64)
	}
	return "×" + strconv.FormatFloat(math.Round(r), 'f', 0, 64)
}

// Tick formats an axis label without trailing zeros, shortening large values
// with k and M: 0.3, 50, 2000, 20k, 1.5M.
func Tick(v float64) string {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
