package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fmtMs formats a latency in milliseconds with three significant digits:
// 0.423 ms, 4.23 ms, 52.3 ms, 142 ms, 1.42 s.
func fmtMs(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "–"
	case ms >= 1000:
		return sig3(ms/1000) + " s"
	default:
		return sig3(ms) + " ms"
	}
}

// sig3 formats v with three significant digits and no exponent.
func sig3(v float64) string {
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

// fmtRate formats a request rate: "800 req/s", "12.5 req/s".
func fmtRate(rps float64) string { return fmtNum(rps) + " req/s" }

// fmtNum formats a count-like figure: integers without decimals, others with
// three significant digits.
func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	s := sig3(v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtPct formats a fraction (0.0123) as a percentage ("1.23 %").
func fmtPct(frac float64) string {
	p := frac * 100
	switch {
	case math.IsNaN(p):
		return "–"
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

// fmtShare formats a mix share (0.01 → "1 %", 0.025 → "2.5 %").
func fmtShare(frac float64) string { return fmtNum(frac*100) + " %" }

// fmtMiB formats bytes in MiB.
func fmtMiB(bytes float64) string {
	mib := bytes / (1 << 20)
	if mib < 10 {
		return strconv.FormatFloat(mib, 'f', 1, 64) + " MiB"
	}
	return strconv.FormatFloat(mib, 'f', 0, 64) + " MiB"
}

// fmtFactor formats a ratio: ×2.0, ×37, ×1200.
func fmtFactor(r float64) string {
	if r < 10 {
		return "×" + strconv.FormatFloat(r, 'f', 1, 64)
	}
	return "×" + strconv.FormatFloat(math.Round(r), 'f', 0, 64)
}

// join lists items as "a, b and c".
func join(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// plural returns "1 cell" or "3 cells".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// safeName turns s into a file-name fragment: letters, digits, '.', '_' and
// '-' are kept, runs of anything else become one '-'.
func safeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r == '.' || r == '_' || r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "x"
	}
	return out
}
