package result

// Figure reads the figure an SLO expression names (one of plan.Figures) from
// the class: a response-time percentile or the maximum in ms, counted from
// the intended send time, or "errors", its failed requests as a percentage of
// its requests. It is the one place a figure's name is read: the run's SLO
// gate and the report's knee both use it.
//
// ok is false when the class has no such figure: a latency figure of a class
// that got no answer, errors of a class that sent no request, or a name that
// is not a figure.
func (c Class) Figure(name string) (v float64, ok bool) {
	if name == "errors" {
		if c.Requests == 0 {
			return 0, false
		}
		return 100 * float64(c.Errors) / float64(c.Requests), true
	}
	l := c.Response
	switch name {
	case "p50":
		v = l.P50
	case "p90":
		v = l.P90
	case "p99":
		v = l.P99
	case "p99.9":
		v = l.P999
	case "p99.99":
		v = l.P9999
	case "max":
		v = l.Max
	default:
		return 0, false
	}
	return v, l.Count > 0
}

// LowerBound reports whether the latency figure name of the class is only a
// lower bound (censored requests may lie at or below it: see Latency): such
// a figure can show that a threshold was broken, never that it was kept.
func (c Class) LowerBound(name string) bool {
	v, ok := c.Figure(name)
	switch {
	case !ok || name == "errors":
		return false
	case name == "max":
		return c.Response.Censored > 0
	}
	return c.Response.LowerBound(v)
}
