package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Figures an SLO expression may test. Latency figures are read from a class's
// response time (counted from the intended send time); errors is the class's
// failed requests as a percentage of its requests.
var Figures = []string{"p50", "p90", "p99", "p99.9", "p99.99", "max", "errors"}

// Expr is a parsed SLO expression "FIGURE OP VALUE", e.g. "p99 <= 50ms" or
// "errors < 0.1%".
type Expr struct {
	Figure string  // one of Figures
	Op     string  // <, <=, >, >=
	Limit  float64 // milliseconds for latency figures, percent for errors
	Unit   string  // "ms" or "%"
}

// ParseExpr parses an SLO expression. Latency limits are Go durations ("50ms",
// "1.5s", "800us"); the errors limit is a percentage ("0.1%").
func ParseExpr(s string) (Expr, error) {
	src := strings.TrimSpace(s)
	if src == "" {
		return Expr{}, fmt.Errorf("required, e.g. \"p99 <= 50ms\" or \"errors < 0.1%%\"")
	}
	i := strings.IndexAny(src, "<>")
	if i < 0 {
		return Expr{}, fmt.Errorf("%q: want FIGURE OP VALUE with OP one of <, <=, >, >=", s)
	}
	var e Expr
	e.Figure = strings.TrimSpace(src[:i])
	rest := src[i:]
	e.Op = rest[:1]
	if len(rest) > 1 && rest[1] == '=' {
		e.Op = rest[:2]
	}
	val := strings.TrimSpace(rest[len(e.Op):])
	known := false
	for _, f := range Figures {
		known = known || f == e.Figure
	}
	if !known {
		return Expr{}, fmt.Errorf("%q: unknown figure %q (one of %s)", s, e.Figure, strings.Join(Figures, ", "))
	}
	if val == "" {
		return Expr{}, fmt.Errorf("%q: missing value after %s", s, e.Op)
	}
	if e.Figure == "errors" {
		num, ok := strings.CutSuffix(val, "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return Expr{}, fmt.Errorf("%q: errors limit must be a percentage in [0%%, 100%%], e.g. 0.1%%", s)
		}
		e.Limit, e.Unit = v, "%"
		return e, nil
	}
	d, err := time.ParseDuration(val)
	if err != nil || d <= 0 {
		return Expr{}, fmt.Errorf("%q: %s limit must be a positive duration, e.g. 50ms", s, e.Figure)
	}
	e.Limit, e.Unit = float64(d)/float64(time.Millisecond), "ms"
	return e, nil
}

// Check reports whether v (in the expression's unit) meets the threshold.
func (e Expr) Check(v float64) bool {
	switch e.Op {
	case "<":
		return v < e.Limit
	case "<=":
		return v <= e.Limit
	case ">":
		return v > e.Limit
	case ">=":
		return v >= e.Limit
	}
	return false
}

// String renders the expression in canonical form.
func (e Expr) String() string {
	if e.Unit == "%" {
		return fmt.Sprintf("%s %s %g%%", e.Figure, e.Op, e.Limit)
	}
	return fmt.Sprintf("%s %s %s", e.Figure, e.Op, time.Duration(e.Limit*float64(time.Millisecond)))
}
