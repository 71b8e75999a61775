package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/concbench/concbench/units"
)

// mdEscape keeps text from breaking a Markdown table or turning into markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

// WriteMarkdown writes summary.md: the answer, the verdict table, the
// diagnosis and every chart's findings, for a CI step summary.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	run := r.Run
	fmt.Fprintf(b, "# concbench report: %s\n\n", mdEscape(orDash(run.Plan.Name)))
	fmt.Fprintf(b, "%s, %s cores (%s), Go %s, %s/%s. %s of %s × %s, %s each.",
		mdEscape(orDash(run.Env.CPUModel)), units.Num(float64(run.Env.Cores)), mdEscape(pinningText(run.Env.Pinning)),
		mdEscape(orDash(run.Env.GoVersion)), mdEscape(run.Env.OS), mdEscape(run.Env.Arch),
		plural(len(run.Cells), "cell"), plural(len(r.Models), "model"), plural(len(r.Scenarios), "scenario"),
		plural(max(run.Plan.Reps, 1), "rep"))
	if run.Interrupted {
		b.WriteString(" **The run was interrupted: only finished cells are reported.**")
	}
	if s := skippedText(run.Skipped); s != "" {
		fmt.Fprintf(b, " Skipped, not installed here: %s.", mdEscape(s))
	}
	if refs := referencesText(run.Env.References); refs != "" {
		fmt.Fprintf(b, " Reference systems: %s.", mdEscape(refs))
	}
	b.WriteString("\n\n")

	r.writeLessonsMarkdown(b)
	b.WriteString("## Which model for which workload\n\n")
	if len(r.Advice) == 0 {
		b.WriteString("No scenario was measured.\n")
	}
	for _, a := range r.Advice {
		best := a.Pick()
		if a.Best != "" {
			best = "**" + best + "**"
		}
		fmt.Fprintf(b, "- **%s** (%s) at %s → %s. %s\n", mdEscape(a.Scenario), mdEscape(a.Mix), units.Rate(a.Rate), best, mdEscape(a.Text))
	}

	b.WriteString("\n## Verdict\n\nMedians over the valid repetitions; cheap = victim classes (worst class), heavy = heavy classes.\n\n")
	b.WriteString("| " + strings.Join(verdictHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(verdictHeader)) + "\n")
	for _, row := range r.Verdict() {
		cells := row.cells()
		for i := range cells {
			cells[i] = mdEscape(cells[i])
		}
		if row.Invalid {
			cells[len(cells)-1] = "**" + cells[len(cells)-1] + "**"
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}

	b.WriteString("\n## Diagnosis\n\n")
	if len(r.Diagnoses) == 0 {
		b.WriteString("No rule fired: no blocked event loop, saturated pool, per-request threads, over-capacity, failed server or generator-bound cell.\n")
	}
	for _, d := range r.Diagnoses {
		who := ""
		if d.Model != "" {
			who = d.Model + ": "
		}
		fmt.Fprintf(b, "- **%s%s** — %s.\n", mdEscape(who), mdEscape(d.Verdict), mdEscape(d.Hint))
		for _, e := range d.Evidence {
			fmt.Fprintf(b, "  - %s\n", mdEscape(e))
		}
	}

	r.writeFidelityMarkdown(b)

	b.WriteString("\n## Findings\n")
	for _, c := range r.Charts {
		fmt.Fprintf(b, "\n### %s\n\n%s\n", mdEscape(c.Title), mdEscape(strings.Join(c.Sentences, " ")))
	}
	if len(r.Omitted) > 0 {
		b.WriteString("\n### Charts left out\n\n")
		for _, o := range r.Omitted {
			fmt.Fprintf(b, "- %s: %s.\n", mdEscape(o.Title), mdEscape(o.Reason))
		}
	}
	b.WriteString("\nCharts, links to every cell's histograms and raw files: `report.html` in the results directory.\n")
	return b.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
