package runner

import (
	"fmt"

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
				// A class whose every request failed has no latency
				// figure: it breaks a latency threshold (checking it as 0
				// passed "p99 <= X" for a class that got no answer). A
				// lower bound can break a threshold, never keep one.
				var ok bool
				r.Value, ok = cl.Figure(e.Figure)
				switch {
				case !ok:
					r.Reason = "no request of this class succeeded: it has no response time, and fails the check"
				case cl.LowerBound(e.Figure) && e.Check(r.Value):
					r.Reason = fmt.Sprintf("the figure is a lower bound (%d requests still waiting when the attack stopped): it cannot show the threshold was kept", cl.Response.Censored)
				default:
					r.Passed = e.Check(r.Value)
				}
				out = append(out, r)
			}
		}
	}
	return out
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
