package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultFailOn is the --fail-on default: a comparison fails when the p99
// response time of any class grows by more than 25 %, or a cell's throughput
// shrinks by more than 10 %, and the change is significant.
//
// Why these numbers. compare runs one test per model × scenario × rate ×
// class × figure — a short CI plan easily has 50–100 — so at alpha 0.05 a few
// of them come out "significant" by chance even when nothing changed. What
// keeps an unchanged A/A rerun green is the size threshold, which must sit
// above the noise of a median of ~6 short repetitions on a shared machine: a
// p99 read from a few seconds of traffic moves 10–30 % from rep to rep there,
// so the medians of two such samples can differ by 15–20 % by chance; +25 %
// stays above that. The regressions the check exists for are far larger: a
// model doing twice the work per request doubles its heavy class's response
// time at light load and multiplies every class's p99 near capacity, so +25 %
// catches a 2× slowdown with a wide margin. Throughput at a fixed offered
// rate only moves when a model falls behind the offered load; then it drops by
// much more than 10 %, while an unchanged run stays within 1–2 %. p50, p99.9,
// RSS and CPU are reported but not gated by default: p50 hides tail damage,
// p99.9 of a short window rests on a handful of requests, and RSS and CPU move
// with GC timing. Accept an intended slowdown explicitly (see README), never by
// loosening these.
const DefaultFailOn = "p99>+25%,throughput<-10%"

// DefaultAlpha is the significance level: a change counts when the
// Mann-Whitney U test's p-value is below it.
const DefaultAlpha = 0.05

// Op is the direction in which a Threshold's figure gets worse.
type Op byte

const (
	// Grows ('>'): worse if the figure grows beyond the threshold.
	Grows Op = '>'
	// Shrinks ('<'): worse if the figure shrinks beyond the threshold.
	Shrinks Op = '<'
)

// Threshold is one clause of --fail-on, "FIGURE OP SIGNED_PERCENT": p99>+10%
// fails on a significant growth of any class's p99 by more than 10 %,
// throughput<-5% on a significant shrink by more than 5 %.
type Threshold struct {
	Figure Figure
	Op     Op
	// Percent is the signed limit: ≥ 0 for Grows, ≤ 0 for Shrinks.
	Percent float64
}

// String returns the threshold as ParseThresholds reads it, e.g. "p99>+10%".
func (t Threshold) String() string {
	sign := "+"
	if t.Op == Shrinks {
		sign = "-"
	}
	return fmt.Sprintf("%s%c%s%s%%", t.Figure, t.Op, sign, strconv.FormatFloat(math.Abs(t.Percent), 'f', -1, 64))
}

// Broken reports whether a change of changePct percent (new/old − 1, × 100)
// goes beyond the threshold. It does not consider significance.
func (t Threshold) Broken(changePct float64) bool {
	if math.IsNaN(changePct) {
		return false
	}
	if t.Op == Grows {
		return changePct > t.Percent
	}
	return changePct < t.Percent
}

// ParseThresholds reads a --fail-on value: comma-separated clauses
// FIGURE OP SIGNED_PERCENT, where FIGURE is throughput, p50, p99, p99.9, rss or
// cpu; OP is '>' ("worse if it grows beyond") with a + percent or '<' ("worse
// if it shrinks beyond") with a - percent; spaces around the parts are
// ignored. An empty or blank value means no thresholds (report only, always
// exit 0). Each figure takes at most one clause per direction.
func ParseThresholds(s string) ([]Threshold, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ts []Threshold
	seen := map[[2]int]bool{}
	for _, clause := range strings.Split(s, ",") {
		t, err := parseThreshold(strings.TrimSpace(clause))
		if err != nil {
			return nil, err
		}
		k := [2]int{int(t.Figure), int(t.Op)}
		if seen[k] {
			return nil, fmt.Errorf("%q: %s already has a %c threshold", clause, t.Figure, t.Op)
		}
		seen[k] = true
		ts = append(ts, t)
	}
	return ts, nil
}

// MustParseThresholds is ParseThresholds for constants; it panics on error.
func MustParseThresholds(s string) []Threshold {
	ts, err := ParseThresholds(s)
	if err != nil {
		panic(err)
	}
	return ts
}

func parseThreshold(c string) (Threshold, error) {
	if c == "" {
		return Threshold{}, fmt.Errorf("empty threshold (stray comma?)")
	}
	i := strings.IndexAny(c, "<>")
	if i < 0 {
		return Threshold{}, fmt.Errorf("%q: want FIGURE>+N%% or FIGURE<-N%%, e.g. p99>+10%% or throughput<-5%%", c)
	}
	name := strings.TrimSpace(c[:i])
	fig, ok := ParseFigure(name)
	if !ok {
		return Threshold{}, fmt.Errorf("%q: unknown figure %q (want %s)", c, name, figureNames())
	}
	t := Threshold{Figure: fig, Op: Op(c[i])}
	num := strings.TrimSpace(c[i+1:])
	pct, ok := strings.CutSuffix(num, "%")
	pct = strings.TrimSpace(pct)
	wantSign := byte('+')
	if t.Op == Shrinks {
		wantSign = '-'
	}
	if !ok || pct == "" || (pct[0] != '+' && pct[0] != '-') {
		return Threshold{}, fmt.Errorf("%q: want a signed percent after %c, e.g. %s%c%c10%%", c, t.Op, name, t.Op, wantSign)
	}
	v, err := strconv.ParseFloat(pct, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return Threshold{}, fmt.Errorf("%q: %q is not a number", c, pct)
	}
	if pct[0] != wantSign {
		if t.Op == Grows {
			return Threshold{}, fmt.Errorf("%q: '>' (worse if it grows beyond) takes a + percent", c)
		}
		return Threshold{}, fmt.Errorf("%q: '<' (worse if it shrinks beyond) takes a - percent", c)
	}
	t.Percent = v
	return t, nil
}
