package runner

import (
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// EvaluateSLOs checks every SLO of p against every matching class of every
// matching cell. A latency figure is read from the class's response time
// (counted from the intended send time); errors is the class's failed requests
// as a percentage of its requests. An SLO without a class applies to each class
// separately. A check is skipped (Skipped set, Passed false, Reason saying
// why) on an invalid cell, whose figures do not describe the server, and on a
// class that had no request in the measured window: it has no figure, and a
// threshold would pass vacuously.
func EvaluateSLOs(p plan.Plan, cells []result.Cell) []result.SLOResult {
	var out []result.SLOResult
	for _, slo := range p.SLOs {
		e, err := plan.ParseExpr(slo.Expr)
		if err != nil {
			continue // a validated plan has none
		}
		for _, c := range cells {
			for _, cl := range c.Classes {
				if !slo.Matches(c.Model, c.Scenario, cl.Name) {
					continue
				}
				r := result.SLOResult{Expr: e.String(), Cell: c.ID, Class: cl.Name, Limit: e.Limit, Unit: e.Unit}
				switch {
				case !c.Validity.Valid:
					r.Skipped = true
					r.Reason = "the cell is invalid: " + invalidCause(c.Validity)
				case cl.Requests == 0:
					r.Skipped = true
					r.Reason = "no request of this class was sent in the measured window"
				}
				if r.Skipped {
					out = append(out, r)
					continue
				}
				r.Value = figure(e.Figure, cl)
				r.Passed = e.Check(r.Value)
				out = append(out, r)
			}
		}
	}
	return out
}

// figure reads one SLO figure of a class: milliseconds, or percent for errors.
func figure(name string, c result.Class) float64 {
	l := c.Response
	switch name {
	case "p50":
		return l.P50
	case "p90":
		return l.P90
	case "p99":
		return l.P99
	case "p99.9":
		return l.P999
	case "p99.99":
		return l.P9999
	case "max":
		return l.Max
	case "errors":
		if c.Requests == 0 {
			return 0
		}
		return 100 * float64(c.Errors) / float64(c.Requests)
	}
	return 0
}

// SLOCounts counts broken and skipped checks.
func SLOCounts(rs []result.SLOResult) (broken, skipped int) {
	for _, r := range rs {
		switch {
		case r.Skipped:
			skipped++
		case !r.Passed:
			broken++
		}
	}
	return broken, skipped
}

// invalidCause says in a few words why an invalid cell is invalid.
func invalidCause(v result.Validity) string {
	if v.ServerFailed() {
		return "the server failed"
	}
	return "generator-bound" // also an old file's cell without a cause
}
