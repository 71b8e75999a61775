package compare

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/concbench/concbench/units"
	"golang.org/x/perf/benchmath"
)

// WriteText writes the report as benchstat-style aligned tables, one per model
// × scenario × figure, after a header saying what was compared and before the
// verdict line.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "concbench compare: old vs new")
	for _, s := range []SideSummary{r.Old, r.New} {
		fmt.Fprintf(bw, "  %s: %s\n", s.Label, s.describe())
	}
	fmt.Fprintf(bw, "  machine: %s\n", r.machines())
	fmt.Fprintf(bw, "  method: %s\n", r.method())
	fmt.Fprintf(bw, "  fail on: %s\n", r.failOn())
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "  note: %s\n", n)
	}
	for i := range r.Tables {
		t := &r.Tables[i]
		fmt.Fprintf(bw, "\n%s · %s · %s\n", t.Model, t.Scenario, t.Figure.Title())
		cells, notes := t.cells(false)
		writeAligned(bw, cells, t.rightAligned())
		for j, n := range notes {
			fmt.Fprintf(bw, "%s %s\n", superscript(j+1), n)
		}
	}
	fmt.Fprintf(bw, "\nverdict: %s\n", r.Verdict())
	return bw.Flush()
}

// WriteMarkdown writes the same report as Markdown (GitHub tables), e.g. for
// a CI job summary.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "## concbench compare: old vs new")
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| side | plan | commit | reps per cell | runs | invalid cells dropped | results |")
	fmt.Fprintln(bw, "|:--|:--|:--|--:|--:|--:|:--|")
	for _, s := range []SideSummary{r.Old, r.New} {
		runs := fmt.Sprint(s.Runs)
		if s.Interrupted > 0 {
			runs += fmt.Sprintf(" (%d interrupted)", s.Interrupted)
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %d | %s |\n", s.Label, mdEscape(s.plans()), mdEscape(s.commits()),
			s.reps(), runs, s.Dropped, mdEscape("`"+strings.Join(s.Paths, "`, `")+"`"))
	}
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "Machine: %s.  \n", mdEscape(r.machines()))
	fmt.Fprintf(bw, "Method: %s.  \n", mdEscape(r.method()))
	fmt.Fprintf(bw, "Fail on: %s.\n", mdEscape(r.failOn()))
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "\n> **Note:** %s\n", mdEscape(n))
	}
	for i := range r.Tables {
		t := &r.Tables[i]
		fmt.Fprintf(bw, "\n### %s · %s · %s\n\n", mdEscape(t.Model), mdEscape(t.Scenario), t.Figure.Title())
		cells, notes := t.cells(true)
		right := t.rightAligned()
		for j, row := range cells {
			fmt.Fprint(bw, "|")
			for _, c := range row {
				fmt.Fprintf(bw, " %s |", mdEscape(c))
			}
			fmt.Fprintln(bw)
			if j == 0 {
				fmt.Fprint(bw, "|")
				for _, ra := range right {
					if ra {
						fmt.Fprint(bw, "--:|")
					} else {
						fmt.Fprint(bw, ":--|")
					}
				}
				fmt.Fprintln(bw)
			}
		}
		if len(notes) > 0 {
			fmt.Fprintln(bw)
		}
		for j, n := range notes {
			fmt.Fprintf(bw, "%s %s  \n", superscript(j+1), mdEscape(n))
		}
	}
	status, detail := r.verdict()
	fmt.Fprintf(bw, "\n**%s**: %s\n", status, mdEscape(detail))
	return bw.Flush()
}

// Verdict is one line: PASS or FAIL, naming every regression.
func (r *Report) Verdict() string {
	status, detail := r.verdict()
	return status + ": " + detail
}

func (r *Report) verdict() (status, detail string) {
	var tail string
	if r.Undetectable > 0 {
		tail = fmt.Sprintf("; %d of %d comparisons had too few repetitions to detect any difference", r.Undetectable, r.Rows)
	}
	if r.OneSided > 0 {
		tail += fmt.Sprintf("; %d cells were measured validly on one side only and not compared", r.OneSided)
	}
	if r.Failed() {
		return "FAIL", regressionSummary(r.Regressions) + tail
	}
	changed := fmt.Sprintf("%d of %d comparisons changed significantly", r.Changed, r.Rows)
	if len(r.Thresholds) == 0 {
		return "PASS", "no thresholds set (report only); " + changed + tail
	}
	if r.Changed > 0 {
		changed += ", all within the thresholds"
	}
	return "PASS", fmt.Sprintf("no significant regression beyond %s (%s)%s", thresholdList(r.Thresholds), changed, tail)
}

func regressionSummary(gs []Regression) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.String()
	}
	noun := "regression"
	if len(gs) != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d significant %s beyond thresholds: %s", len(gs), noun, strings.Join(parts, "; "))
}

func thresholdList(ts []Threshold) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func (r *Report) failOn() string {
	if len(r.Thresholds) == 0 {
		return "nothing (report only)"
	}
	return thresholdList(r.Thresholds) + " (a significant change beyond one is a regression)"
}

func (r *Report) method() string {
	return fmt.Sprintf("median ± %.0f%% confidence interval of the repetitions; change of the medians, significant when the Mann-Whitney U test gives p < %v, else ~",
		Confidence*100, r.Alpha)
}

func (r *Report) machines() string {
	if strings.Join(r.Old.Machines, " + ") == strings.Join(r.New.Machines, " + ") {
		return strings.Join(r.Old.Machines, " + ") + " (both sides)"
	}
	return "old on " + strings.Join(r.Old.Machines, " + ") + "; new on " + strings.Join(r.New.Machines, " + ")
}

func (s SideSummary) describe() string {
	d := fmt.Sprintf("plan %s, commit %s, %s reps per cell, %d run", s.plans(), s.commits(), s.reps(), s.Runs)
	if s.Runs != 1 {
		d += "s"
	}
	if s.Interrupted > 0 {
		d += fmt.Sprintf(" (%d interrupted)", s.Interrupted)
	}
	d += " (" + strings.Join(s.Paths, ", ") + ")"
	if s.Dropped > 0 {
		d += fmt.Sprintf("; %d invalid cell", s.Dropped)
		if s.Dropped > 1 {
			d += "s"
		}
		d += " dropped"
	}
	return d
}

func (s SideSummary) plans() string { return strings.Join(quoteAll(s.Plans), ", ") }

func (s SideSummary) commits() string {
	cs := make([]string, len(s.Commits))
	for i, c := range s.Commits {
		cs[i] = shortCommit(c)
	}
	return strings.Join(cs, ", ")
}

func (s SideSummary) reps() string {
	if s.MinReps == s.MaxReps {
		return fmt.Sprint(s.MinReps)
	}
	return fmt.Sprintf("%d–%d", s.MinReps, s.MaxReps)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if s == "" {
			s = "(unnamed)"
		}
		out[i] = s
	}
	return out
}

// shortCommit keeps 12 hex digits of a full hash, like git's abbreviations.
func shortCommit(c string) string {
	if c == "" {
		return "unknown"
	}
	if len(c) > 12 && strings.Trim(c[:12], "0123456789abcdef") == "" {
		return c[:12] + strings.TrimLeft(c[12:], "0123456789abcdef")
	}
	return c
}

// rightAligned says which columns hold numbers.
func (t *Table) rightAligned() []bool {
	if t.Figure.PerClass() {
		return []bool{true, false, true, true, true, false, false}
	}
	return []bool{true, true, true, true, false, false}
}

// cells renders the table's header and rows, and the benchmath warnings the
// superscripts in them refer to.
func (t *Table) cells(markdown bool) (rows [][]string, notes []string) {
	note := func(ws []error) string {
		var refs []string
		for _, w := range ws {
			i := 0
			for i < len(notes) && notes[i] != w.Error() {
				i++
			}
			if i == len(notes) {
				notes = append(notes, w.Error())
			}
			refs = append(refs, superscript(i+1))
		}
		if len(refs) == 0 {
			return ""
		}
		return " " + strings.Join(refs, "")
	}
	head := []string{"offered"}
	if t.Figure.PerClass() {
		head = append(head, "class")
	}
	head = append(head, "old", "new", "change", "p-value/n", "")
	rows = append(rows, head)
	for i := range t.Rows {
		row := &t.Rows[i]
		cs := []string{units.Plain(row.Rate) + "/s"}
		if t.Figure.PerClass() {
			c := row.Class
			if row.Heavy {
				c += " (heavy)"
			}
			cs = append(cs, c)
		}
		change := "~"
		if row.Significant {
			change = formatChange(row.ChangePct)
			if markdown && len(row.Broken) > 0 {
				change = "**" + change + "**"
			}
		}
		mark := ""
		if len(row.Broken) > 0 {
			mark = "← regression (" + thresholdList(row.Broken) + ")"
			if markdown {
				mark = "**regression** (`" + thresholdList(row.Broken) + "`)"
			}
		}
		cs = append(cs,
			formatSummary(t.Figure, row.Old)+note(row.Old.Warnings),
			formatSummary(t.Figure, row.New)+note(row.New.Warnings),
			change,
			row.Cmp.String()+note(row.Cmp.Warnings),
			mark)
		rows = append(rows, cs)
	}
	return rows, notes
}

func formatSummary(f Figure, s benchmath.Summary) string {
	return f.Format(s.Center) + " ± " + s.PctRangeString()
}

func formatChange(pct float64) string {
	if math.IsNaN(pct) {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", pct)
}

// writeAligned writes rows as columns two spaces apart, numbers right-aligned,
// with trailing blanks trimmed. Widths count runes (µ, ±, ∞ are one column).
func writeAligned(w io.Writer, rows [][]string, right []bool) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < len(right) && right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func superscript(n int) string {
	const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	var b strings.Builder
	for _, d := range fmt.Sprint(n) {
		b.WriteString(string([]rune(digits)[d-'0']))
	}
	return b.String()
}

// mdEscape protects table cells; thresholds such as p99>+10% stay readable.
var mdEscaper = strings.NewReplacer("|", `\|`)

func mdEscape(s string) string { return mdEscaper.Replace(s) }
