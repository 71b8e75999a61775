package reports

import (
	"strings"

	"github.com/concbench/concbench/plan"
)

// DefaultSLOs are the thresholds a knee is found with for each kind of figure
// (latency, errors) the plan sets none of for the cheap classes.
var DefaultSLOs = []plan.SLO{
	{Expr: "p99 <= 100ms"},
	{Expr: "errors < 0.1%"},
}

// sloCheck is one plan threshold, parsed by the plan's own parser.
type sloCheck struct {
	plan.SLO
	expr plan.Expr
}

func (c sloCheck) latency() bool { return c.expr.Figure != "errors" }

// value returns the class's figure the check names, in the expression's unit
// (read by result.Class.Figure, over the group's repetitions).
func (c sloCheck) value(cf *ClassFigures) Stat { return cf.sloFigures[c.expr.Figure] }

// victimSLOs returns the plan's checks that apply to cheap classes (a check
// naming a heavy class is left to the run's own SLO gate), completed with
// DefaultSLOs for a kind of figure the plan does not check.
func victimSLOs(p *plan.Plan, heavy map[string]bool) (checks []sloCheck, defaulted, problems []string) {
	hasLatency, hasErrors := false, false
	for _, s := range p.SLOs {
		if s.Class != "" && s.Class != "*" && heavy[s.Class] {
			continue
		}
		e, err := plan.ParseExpr(s.Expr)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		c := sloCheck{SLO: s, expr: e}
		checks = append(checks, c)
		hasLatency = hasLatency || c.latency()
		hasErrors = hasErrors || !c.latency()
	}
	for _, s := range DefaultSLOs {
		e, _ := plan.ParseExpr(s.Expr) // valid by construction
		c := sloCheck{SLO: s, expr: e}
		if (c.latency() && !hasLatency) || (!c.latency() && !hasErrors) {
			checks = append(checks, c)
			defaulted = append(defaulted, s.Expr)
		}
	}
	return checks, defaulted, problems
}

// meetsSLOs reports whether every check that applies to a cheap class of g
// passes on the group's medians. An invalid group never does, nor one whose
// server failed in a repetition.
func meetsSLOs(g *Group, checks []sloCheck) bool {
	if g.Invalid || g.ServerFailed() {
		return false
	}
	applied := false
	for _, c := range checks {
		for i := range g.Classes {
			cf := &g.Classes[i]
			if cf.Heavy || !c.Matches(g.Model, g.Scenario, cf.Name) {
				continue
			}
			v := c.value(cf)
			// No figure (a class whose every request failed) or a lower
			// bound (censored requests) cannot show the threshold was kept.
			if !v.OK() || v.Lower {
				return false
			}
			applied = true
			if !c.expr.Check(v.Med) {
				return false
			}
		}
	}
	return applied
}

// sloText lists the checks for a sentence: "p99 <= 100ms and errors < 0.1%".
func sloText(checks []sloCheck) string {
	var parts []string
	for _, c := range checks {
		s := c.Expr
		var scope []string
		for _, sel := range []string{c.Model, c.Scenario, c.Class} {
			if sel != "" && sel != "*" {
				scope = append(scope, sel)
			}
		}
		if len(scope) > 0 {
			s += " (" + strings.Join(scope, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return join(parts)
}
