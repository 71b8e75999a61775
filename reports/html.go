package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

//go:embed report.html.tmpl
var htmlSource string

//go:embed lessons.html.tmpl
var lessonsSource string

var htmlTemplate = template.Must(template.Must(template.New("report").Funcs(template.FuncMap{
	"color":         func(key string) template.CSS { return template.CSS("background:" + plot.Color(key)) },
	"num":           units.Num,
	"ms":            units.Ms,
	"fidelityRules": FidelityRules,
	"verdictClass":  func(v string) string { return strings.ReplaceAll(v, " ", "-") },
}).Parse(htmlSource + lessonsSource)).Parse(fidelityHTMLSource))

// pinningText describes CPU pinning in a few words.
// referencesText names the program behind each reference model:
// "node-loop: node v20.19.2; apache-worker: apache2".
func referencesText(refs map[string]string) string {
	names := slices.Sorted(maps.Keys(refs))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + refs[n]
	}
	return strings.Join(parts, "; ")
}

// skippedText says which models of the plan did not run here, and why.
func skippedText(skipped []result.Skipped) string {
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = s.Model + " (" + s.Reason + ")"
	}
	return strings.Join(parts, "; ")
}

func pinningText(p result.Pinning) string {
	if p.ServerCPUs == "" && p.LoadgenCPUs == "" {
		s := "not pinned"
		if p.Note != "" {
			s += " (" + p.Note + ")"
		}
		return s
	}
	s := fmt.Sprintf("servers on CPUs %s, load generator on CPUs %s", orDash(p.ServerCPUs), orDash(p.LoadgenCPUs))
	if p.Note != "" {
		s += " (" + p.Note + ")"
	}
	return s
}

type kv struct{ K, V string }

type fileLink struct {
	Kind, Path, Href string
	// Missing is set when the cell names a file the results directory lacks
	// (or one outside it): it is listed, not linked.
	Missing bool
}

type cellView struct {
	ID, Validity string
	Invalid      bool
	Reasons      []string
	Files        []fileLink
}

type chartView struct {
	*plot.Chart
	W, H int
}

type htmlView struct {
	Title     string
	Env, Plan []kv
	Report    *Report
	Scenarios []*Scenario
	Rows      []VerdictRow
	Charts    []chartView
	Cells     []cellView
}

// relHref makes a link to a path relative to the results directory.
func relHref(p string) string {
	return (&url.URL{Path: filepath.ToSlash(p)}).String()
}

// WriteHTML writes report.html. dir is the results directory the page sits
// in: a cell's file is linked only when it exists there.
func (r *Report) WriteHTML(w io.Writer, dir string) error {
	run := r.Run
	v := htmlView{Title: "concbench report: " + orDash(run.Plan.Name), Report: r, Scenarios: r.Scenarios, Rows: r.Verdict()}
	env := run.Env
	version := orDash(env.ConcbenchVersion)
	if env.Commit != "" {
		version += " (" + env.Commit + ")"
	}
	mem := "–"
	if env.MemoryBytes > 0 {
		mem = units.Bytes(float64(env.MemoryBytes))
	}
	v.Env = []kv{
		{"concbench", version},
		{"Go", orDash(env.GoVersion)},
		{"OS", strings.TrimSpace(env.OS + "/" + env.Arch + " " + env.Kernel)},
		{"CPU", fmt.Sprintf("%s, %d cores", orDash(env.CPUModel), env.Cores)},
		{"memory", mem},
		{"host", orDash(env.Hostname)},
		{"pinning", pinningText(env.Pinning)},
		{"GOMAXPROCS", r.gomaxprocsText()},
	}
	for _, m := range r.Models {
		if why := r.gomaxprocsReason(m); why != "" {
			v.Env = append(v.Env, kv{"GOMAXPROCS of " + m, why})
		}
	}
	if env.ServerBinary != "" {
		what := "the servers alone (cmd/concbench-serve)"
		if filepath.Base(env.ServerBinary) != launch.ServeBinary {
			what = "the whole concbench binary (no concbench-serve beside it)"
		}
		v.Env = append(v.Env, kv{"Go models ran in", filepath.Base(env.ServerBinary) + ": " + what})
	}
	if env.CeilingRPS > 0 {
		v.Env = append(v.Env, kv{"generator ceiling", units.Rate(env.CeilingRPS) + " (against /plain)"})
	}
	if refs := referencesText(env.References); refs != "" {
		v.Env = append(v.Env, kv{"reference systems", refs})
	}
	if s := skippedText(run.Skipped); s != "" {
		v.Env = append(v.Env, kv{"skipped", s})
	}
	when := "–"
	if !run.Started.IsZero() {
		when = run.Started.UTC().Format(time.RFC3339)
		if !run.Finished.IsZero() {
			when += " – " + run.Finished.UTC().Format(time.RFC3339) + " (" + run.Finished.Sub(run.Started).Round(time.Second).String() + ")"
		}
	}
	if run.Interrupted {
		when += "; interrupted: only the finished cells are reported"
	}
	v.Env = append(v.Env, kv{"run", when})

	p := run.Plan
	v.Plan = []kv{
		{"plan", orDash(p.Name)},
		{"models", strings.Join(p.Models, ", ")},
		{"each cell", fmt.Sprintf("%s measured after %s warm-up, %s, interleaved", p.Duration, p.Warmup, plural(max(p.Reps, 1), "rep"))},
		{"generator", fmt.Sprintf("open loop, up to %s connections, timeout %s", units.Num(float64(p.MaxConnections)), p.Timeout)},
		{"server settings", serverSettings(p.Server, slices.Contains(p.Models, "cluster"))},
	}
	slo := r.SLOText
	if len(r.DefaultSLOs) > 0 {
		slo += " (" + join(r.DefaultSLOs) + ": default, the plan checks no such figure for the cheap classes)"
	}
	if len(r.SLOProblems) > 0 {
		slo += "; unreadable: " + strings.Join(r.SLOProblems, "; ")
	}
	v.Plan = append(v.Plan, kv{"knee SLO", slo})

	for _, c := range r.Charts {
		wpx, hpx := c.Size()
		v.Charts = append(v.Charts, chartView{c, wpx, hpx})
	}
	for _, g := range r.Groups {
		for _, c := range g.Cells {
			cv := cellView{ID: c.ID, Validity: "valid", Invalid: !c.Validity.Valid, Reasons: c.Validity.Reasons}
			if note := generatorMemoryNote(c.Generator); note != "" {
				cv.Reasons = append(slices.Clip(cv.Reasons), note)
			}
			if c.Validity.ServerFailed() {
				cv.Validity = "invalid: server failed"
			} else if !c.Validity.Valid {
				cv.Validity = "invalid: generator-bound"
			} else if c.Validity.OverCapacity {
				cv.Validity = "valid, over capacity"
			}
			kinds := make([]string, 0, len(c.Files))
			for k := range c.Files {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				path := c.Files[k]
				fl := fileLink{Kind: k, Path: path}
				if filepath.IsLocal(path) && fileExists(filepath.Join(dir, path)) {
					fl.Href = relHref(path)
				} else {
					fl.Missing = true
				}
				cv.Files = append(cv.Files, fl)
			}
			v.Cells = append(v.Cells, cv)
		}
	}
	return htmlTemplate.Execute(w, v)
}

// generatorMemoryNote is the generator-health note on a cell's memory: the
// load generator's live heap and RSS at the start and end of its window
// (empty for files that did not record them).
func generatorMemoryNote(g result.Generator) string {
	if g.HeapStartBytes <= 0 || g.RSSStartBytes <= 0 {
		return ""
	}
	return fmt.Sprintf("load generator memory over the window: live heap %s → %s (×%.2f), RSS %s → %s (×%.2f)",
		units.MiB(float64(g.HeapStartBytes)), units.MiB(float64(g.HeapEndBytes)), float64(g.HeapEndBytes)/float64(g.HeapStartBytes),
		units.MiB(float64(g.RSSStartBytes)), units.MiB(float64(g.RSSEndBytes)), float64(g.RSSEndBytes)/float64(g.RSSStartBytes))
}

func (r *Report) gomaxprocsText() string {
	var parts []string
	for _, m := range r.Models {
		var vals []int
		for _, g := range r.Groups {
			if g.Model == m && g.GOMAXPROCS > 0 && !slices.Contains(vals, g.GOMAXPROCS) {
				vals = append(vals, g.GOMAXPROCS)
			}
		}
		slices.Sort(vals)
		if len(vals) > 0 {
			s := make([]string, len(vals))
			for i, n := range vals {
				s[i] = itoa(n)
			}
			parts = append(parts, m+" "+strings.Join(s, "/"))
		}
	}
	out := fmt.Sprintf("load generator %d", r.Run.Env.LoadgenGOMAXPROCS)
	if len(parts) > 0 {
		out += "; servers: " + strings.Join(parts, ", ")
	}
	return out
}

// gomaxprocsReason is the GOMAXPROCS policy model m's server ran with, as its
// /stats gave it ("" when none did: older results, reference systems).
func (r *Report) gomaxprocsReason(m string) string {
	for _, g := range r.Groups {
		if g.Model == m && g.GOMAXPROCSReason != "" {
			return g.GOMAXPROCSReason
		}
	}
	return ""
}

// serverSettings names the plan's server settings; with a cluster among the
// models it always names the cluster's balance, the default included, since
// it decides what a blocked child costs.
func serverSettings(t plan.ServerSettings, cluster bool) string {
	var parts []string
	for _, s := range []struct {
		name string
		v    int
	}{{"max threads", t.MaxThreads}, {"workers", t.Workers}, {"queue", t.Queue}, {"procs", t.Procs}} {
		if s.v != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s.name, s.v))
		}
	}
	switch {
	case t.Balance != "":
		parts = append(parts, "cluster balance "+t.Balance)
	case cluster:
		parts = append(parts, "cluster balance "+launch.DefaultBalance+" (default)")
	}
	if len(parts) == 0 {
		return "each model's defaults"
	}
	return strings.Join(parts, ", ")
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
