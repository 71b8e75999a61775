package reports

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

// VerdictRow is one line of the verdict table (model × scenario × rate),
// formatted once for every renderer. Latencies are ms without a unit, RSS is
// MiB; "–" marks a missing figure.
type VerdictRow struct {
	Model, Scenario, Color               string
	Offered, Achieved, AchievedSpread    string
	VictimP50, VictimP99, VictimP999     string
	VictimP99Spread                      string
	HeavyP50, HeavyP99, HeavyP999        string
	Errors, RSS, Threads, Validity       string
	Invalid, OverCapacity, PartlyInvalid bool
}

// ms formats a median latency without its unit: "≥ 1600" when it is a
// lower bound, "n = 25: too few" when a repetition had too few values to
// read it (see Stat).
func ms(s Stat) string {
	switch {
	case !s.OK():
		return "–"
	case s.Few:
		return tooFew(s)
	case s.Lower:
		return "≥ " + units.Sig3(s.Med)
	}
	return units.Sig3(s.Med)
}

// msText formats a median latency with its unit, as ms does.
func msText(s Stat) string {
	switch {
	case !s.OK():
		return "–"
	case s.Few:
		return tooFew(s)
	case s.Lower:
		return "≥ " + units.Ms(s.Med)
	}
	return units.Ms(s.Med)
}

func tooFew(s Stat) string { return "n = " + units.Num(float64(s.Samples)) + ": too few" }

func spread(s Stat, f func(float64) string) string {
	if !s.Spread() || f(s.Min) == f(s.Max) {
		return ""
	}
	return f(s.Min) + "–" + f(s.Max)
}

// Verdict returns the verdict table: one row per group, by scenario, rate, model.
func (r *Report) Verdict() []VerdictRow {
	var rows []VerdictRow
	for _, g := range r.Groups {
		row := VerdictRow{
			Model: g.Model, Scenario: g.Scenario, Color: plot.Color(g.Model),
			Offered:         units.Num(g.Rate),
			Achieved:        "–",
			VictimP50:       ms(g.Victim.P50),
			VictimP99:       ms(g.Victim.P99),
			VictimP999:      ms(g.Victim.P999),
			VictimP99Spread: spread(g.Victim.P99, units.Sig3),
			HeavyP50:        ms(g.Heavy.P50),
			HeavyP99:        ms(g.Heavy.P99),
			HeavyP999:       ms(g.Heavy.P999),
			Errors:          "–",
			RSS:             "–",
			Threads:         "–",
			Validity:        g.Validity(),
			Invalid:         g.Invalid,
			OverCapacity:    g.OverCapacity,
			PartlyInvalid:   !g.Invalid && g.InvalidReps > 0,
		}
		if g.Achieved.OK() {
			row.Achieved = units.Num(g.Achieved.Med)
			row.AchievedSpread = spread(g.Achieved, units.Num)
		}
		if g.ErrorRate.OK() {
			row.Errors = units.Pct(g.ErrorRate.Med)
		}
		if g.NotSampled {
			row.RSS, row.Threads = "not sampled", "not sampled"
		}
		if g.PeakRSS.OK() {
			row.RSS = units.MiBNum(g.PeakRSS.Med)
		}
		if g.PeakThreads.OK() {
			row.Threads = units.Num(math.Round(g.PeakThreads.Med))
		}
		rows = append(rows, row)
	}
	return rows
}

// verdictHeader names the verdict columns for the text renderers.
var verdictHeader = []string{"scenario", "offered req/s", "model", "achieved req/s",
	"cheap p50 ms", "cheap p99 ms", "cheap p99.9 ms", "heavy p50 ms", "heavy p99 ms", "heavy p99.9 ms",
	"errors", "peak RSS MiB", "peak threads", "validity"}

func (v VerdictRow) cells() []string {
	return []string{v.Scenario, v.Offered, v.Model, v.Achieved, v.VictimP50, v.VictimP99, v.VictimP999,
		v.HeavyP50, v.HeavyP99, v.HeavyP999, v.Errors, v.RSS, v.Threads, v.Validity}
}

// Table writes the verdict table of run as plain text, then the answer per
// scenario: what `concbench report` and the end of a run print on stdout.
func Table(w io.Writer, run *result.Run) error {
	r, err := Build(run)
	if err != nil {
		return err
	}
	return r.WriteTable(w)
}

// WriteTable writes the verdict table and the answers as plain text.
func (r *Report) WriteTable(w io.Writer) error {
	if len(r.Groups) == 0 {
		_, err := fmt.Fprintln(w, "no cells in this run")
		return err
	}
	r.writeLessonsText(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := make([]string, len(verdictHeader))
	for i, h := range verdictHeader {
		head[i] = strings.ToUpper(h)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range r.Verdict() {
		fmt.Fprintln(tw, strings.Join(row.cells(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, a := range r.Advice {
		fmt.Fprintf(w, "%s at %s → %s. %s\n", a.Scenario, units.Rate(a.Rate), a.Pick(), a.Text)
	}
	for _, d := range r.Diagnoses {
		who := d.Model
		if who == "" {
			who = "run"
		}
		if _, err := fmt.Fprintf(w, "diagnosis: %s: %s (%s)\n", who, d.Verdict, plural(len(d.Evidence), "finding")); err != nil {
			return err
		}
	}
	return r.writeFidelityText(w)
}
