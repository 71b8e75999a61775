// Package reports renders a benchmark run (result.Run, read from results.json)
// as PNG charts, one self-contained HTML page, a Markdown summary and a plain
// text table.
//
// Accumulate once, render many: Build aggregates the run once into a Report —
// repetitions' medians and spreads, knees, head-of-line families, chart series,
// the sentences that describe each chart, the diagnosis and the "which model
// for which workload" answer — and every renderer only formats that Report.
// Nothing here re-measures: every figure comes from results.json.
package reports

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/units"
)

// Report is a run aggregated for rendering. Build makes it; it is read-only
// afterwards and safe for concurrent use by renderers.
type Report struct {
	Run *result.Run
	// Models and Scenarios are in the plan's order (then any others the cells name).
	Models    []string
	Scenarios []*Scenario
	// Groups are model × scenario × rate, ordered by scenario, rate, model.
	Groups []*Group

	// SLOText states the checks a knee is found with; DefaultSLOs lists those
	// that came from DefaultSLOs because the plan checks no such figure for
	// the cheap classes. SLOProblems lists plan SLOs that could not be read.
	SLOText     string
	DefaultSLOs []string
	SLOProblems []string
	slos        []sloCheck
	knees       map[[2]string]Knee

	Families  []*Family
	Charts    []*plot.Chart
	Omitted   []Omission
	Diagnoses []Diagnosis
	Advice    []Advice
	// Lessons are the seeds' lessons checked against the run (lessons.go).
	Lessons []Lesson
	// Fidelity compares each Go model with its reference system (nil when
	// the plan names no such pair).
	Fidelity *Fidelity
}

// Scenario is one scenario of the run.
type Scenario struct {
	Name, Description string
	Mix               []plan.Class
	// Rates are the offered rates measured, ascending.
	Rates []float64
	// RefRate is the rate single-rate views (percentile spectra, timelines,
	// CPU cost, the answer) use: the highest at which every model was measured
	// validly; RefNote says how it was chosen.
	RefRate float64
	RefNote string
}

// MixText describes the mix: "99 % /plain, 1 % /cpu?iters=20000 (heavy)".
func (s *Scenario) MixText() string {
	total := 0
	for _, c := range s.Mix {
		total += c.Weight
	}
	var parts []string
	for _, c := range s.Mix {
		p := c.Target
		if total > 0 {
			p = units.Share(float64(c.Weight)/float64(total)) + " " + p
		}
		if c.Heavy {
			p += " (heavy)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// Knee is a model's highest offered rate in a scenario whose victim classes
// met the SLOs.
type Knee struct {
	Rate float64
	// Met is false when no valid rate met them.
	Met bool
	// Censored is set when the next higher rate was not measured validly, so
	// the knee may lie higher.
	Censored bool
}

// text is "800 req/s", "200 req/s (800 req/s not measured validly)" or "none".
func (k Knee) text(next float64) string {
	if !k.Met {
		return "none"
	}
	if k.Censored {
		return units.Rate(k.Rate) + " (" + units.Rate(next) + " not measured validly)"
	}
	return units.Rate(k.Rate)
}

// Family is a set of scenarios whose mixes differ only in the heavy class: its
// share of the mix or its work size. The head-of-line chart is drawn from it.
type Family struct {
	Scenarios []string // in X order
	X         []float64
	// Kind is "share" (X is the heavy share in %) or "size" (X is the value of
	// the heavy target's parameter Param).
	Kind, Param string
	// Heavy describes the heavy class ("/cpu?iters=20000").
	Heavy string
	// Victims are the cheap classes' names.
	Victims []string
	// Rate is the offered rate shared by every scenario of the family.
	Rate float64
}

// Omission is a chart family left out of the report, with the reason.
type Omission struct {
	Family, Title, Reason string
}

// Build aggregates run. It fails only on a nil run.
func Build(run *result.Run) (*Report, error) {
	if run == nil {
		return nil, errors.New("reports: nil run")
	}
	r := &Report{Run: run, knees: map[[2]string]Knee{}}
	r.Models = modelOrder(run)
	r.buildScenarios()
	r.buildGroups()
	r.chooseRefRates()

	heavy := map[string]bool{}
	for _, g := range r.Groups {
		for _, n := range g.HeavyNames {
			heavy[n] = true
		}
	}
	r.slos, r.DefaultSLOs, r.SLOProblems = victimSLOs(&run.Plan, heavy)
	r.SLOText = sloText(r.slos)
	for _, s := range r.Scenarios {
		for _, m := range r.Models {
			var k Knee
			for i, rate := range s.Rates {
				if g := r.Group(m, s.Name, rate); g != nil && meetsSLOs(g, r.slos) {
					k = Knee{Rate: rate, Met: true}
					if i+1 < len(s.Rates) {
						next := r.Group(m, s.Name, s.Rates[i+1])
						// A failed server at the next rate is a measurement: it did not meet them.
						k.Censored = next == nil || (next.Invalid && !next.ServerFailed())
					}
				}
			}
			r.knees[[2]string{m, s.Name}] = k
		}
	}
	r.Families, r.Omitted = r.findFamilies()
	r.buildCharts()
	r.diagnose()
	r.advise()
	r.buildLessons()
	r.Fidelity = r.buildFidelity()
	return r, nil
}

// Group returns the group of model × scenario × rate, or nil.
func (r *Report) Group(model, scenario string, rate float64) *Group {
	for _, g := range r.Groups {
		if g.Model == model && g.Scenario == scenario && g.Rate == rate {
			return g
		}
	}
	return nil
}

// Knee returns model's knee in scenario.
func (r *Report) Knee(model, scenario string) Knee { return r.knees[[2]string{model, scenario}] }

// kneeText describes model's knee in scenario.
func (r *Report) kneeText(model string, s *Scenario) string {
	k := r.Knee(model, s.Name)
	next := 0.0
	if i := slices.Index(s.Rates, k.Rate); i >= 0 && i+1 < len(s.Rates) {
		next = s.Rates[i+1]
	}
	return k.text(next)
}

// Scenario returns the named scenario, or nil.
func (r *Report) Scenario(name string) *Scenario {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// groupsAt returns the groups of scenario at rate, in model order.
func (r *Report) groupsAt(scenario string, rate float64) []*Group {
	var gs []*Group
	for _, m := range r.Models {
		if g := r.Group(m, scenario, rate); g != nil {
			gs = append(gs, g)
		}
	}
	return gs
}

func modelOrder(run *result.Run) []string {
	seen := map[string]bool{}
	for _, c := range run.Cells {
		seen[c.Model] = true
	}
	var out []string
	for _, m := range run.Plan.Models {
		if seen[m] && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, c := range run.Cells {
		if !slices.Contains(out, c.Model) {
			out = append(out, c.Model)
		}
	}
	return out
}

func (r *Report) buildScenarios() {
	byName := map[string]*Scenario{}
	add := func(s *Scenario) {
		if byName[s.Name] == nil {
			byName[s.Name] = s
			r.Scenarios = append(r.Scenarios, s)
		}
	}
	used := map[string]bool{}
	for _, c := range r.Run.Cells {
		used[c.Scenario] = true
	}
	for _, ps := range r.Run.Plan.Scenarios {
		if used[ps.Name] {
			add(&Scenario{Name: ps.Name, Description: ps.Description, Mix: ps.Mix})
		}
	}
	for _, c := range r.Run.Cells {
		if byName[c.Scenario] == nil {
			s := &Scenario{Name: c.Scenario}
			for _, cl := range c.Classes {
				s.Mix = append(s.Mix, plan.Class{Name: cl.Name, Target: cl.Target, Weight: cl.Weight, Heavy: cl.Heavy, Bounded: cl.Bounded})
			}
			add(s)
		}
		s := byName[c.Scenario]
		if !slices.Contains(s.Rates, c.Rate) {
			s.Rates = append(s.Rates, c.Rate)
		}
	}
	for _, s := range r.Scenarios {
		slices.Sort(s.Rates)
	}
}

func (r *Report) buildGroups() {
	type key struct {
		model, scenario string
		rate            float64
	}
	cells := map[key][]*result.Cell{}
	for i := range r.Run.Cells {
		c := &r.Run.Cells[i]
		k := key{c.Model, c.Scenario, c.Rate}
		cells[k] = append(cells[k], c)
	}
	for _, s := range r.Scenarios {
		for _, rate := range s.Rates {
			for _, m := range r.Models {
				if cs := cells[key{m, s.Name, rate}]; len(cs) > 0 {
					r.Groups = append(r.Groups, newGroup(m, s.Name, rate, cs))
				}
			}
		}
	}
}

func (r *Report) chooseRefRates() {
	for _, s := range r.Scenarios {
		s.RefRate, s.RefNote = 0, ""
		failed := false
		for i := len(s.Rates) - 1; i >= 0; i-- {
			// A model whose server failed at a rate was measured there: it
			// lost, and the answer must say so.
			gs := r.groupsAt(s.Name, s.Rates[i])
			all := len(gs) > 0
			failed = false
			for _, g := range gs {
				all = all && (!g.Invalid || g.ServerFailed())
				failed = failed || g.ServerFailed()
			}
			if all {
				s.RefRate = s.Rates[i]
				break
			}
		}
		if s.RefRate != 0 {
			if len(s.Rates) > 1 {
				s.RefNote = "the highest offered rate at which every model was measured validly"
				if failed {
					s.RefNote = "the highest offered rate at which every model was measured validly or its server failed"
				}
			}
			continue
		}
		for i := len(s.Rates) - 1; i >= 0 && s.RefRate == 0; i-- {
			for _, g := range r.groupsAt(s.Name, s.Rates[i]) {
				if !g.Invalid {
					s.RefRate = s.Rates[i]
					s.RefNote = "no rate had every model valid; the highest rate with a valid cell"
					break
				}
			}
		}
		if s.RefRate == 0 && len(s.Rates) > 0 {
			s.RefRate = s.Rates[0]
			s.RefNote = "no cell of this scenario was valid"
		}
	}
}

// target is a parsed mix target.
type target struct {
	path  string
	query url.Values
}

func parseTarget(t string) target {
	u, err := url.Parse(t)
	if err != nil {
		return target{path: t}
	}
	return target{path: u.Path, query: u.Query()}
}

// rest returns the query without param, canonically ordered.
func (t target) rest(param string) string {
	var parts []string
	for k, vs := range t.query {
		if k != param {
			parts = append(parts, k+"="+strings.Join(vs, ","))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func (r *Report) findFamilies() ([]*Family, []Omission) {
	type shape struct {
		name      string
		victims   string // canonical key of the cheap classes
		names     []string
		heavy     *plan.Class // nil: no heavy class
		share     float64
		heavyMany bool
	}
	var shapes []shape
	for _, s := range r.Scenarios {
		sh := shape{name: s.Name}
		var vs []string
		total := 0
		for _, c := range s.Mix {
			total += c.Weight
		}
		for i, c := range s.Mix {
			if c.Heavy {
				if sh.heavy != nil {
					sh.heavyMany = true
				}
				sh.heavy = &s.Mix[i]
				continue
			}
			vs = append(vs, c.Name+" "+c.Target)
			sh.names = append(sh.names, c.Name)
		}
		sort.Strings(vs)
		sh.victims = strings.Join(vs, "\n")
		if sh.heavy != nil && total > 0 {
			sh.share = float64(sh.heavy.Weight) / float64(total)
		}
		if len(vs) > 0 && !sh.heavyMany {
			shapes = append(shapes, sh)
		}
	}

	type member struct {
		scenario string
		x        float64
	}
	type candidate struct {
		kind, param, heavy string
		names              []string
		members            []member
	}
	cands := map[string]*candidate{}
	var order []string
	addTo := func(key string, c candidate, m member) {
		if cands[key] == nil {
			cc := c
			cands[key] = &cc
			order = append(order, key)
		}
		for _, e := range cands[key].members {
			if e.scenario == m.scenario {
				return
			}
		}
		cands[key].members = append(cands[key].members, m)
	}
	for _, sh := range shapes {
		if sh.heavy == nil {
			continue
		}
		// Share: same cheap classes, the same heavy target, another share.
		addTo("share\n"+sh.victims+"\n"+sh.heavy.Target,
			candidate{kind: "share", heavy: sh.heavy.Target, names: sh.names},
			member{sh.name, sh.share * 100})
		// Size: same cheap classes, share and heavy route, one numeric
		// parameter of the heavy target differs.
		t := parseTarget(sh.heavy.Target)
		for p, vs := range t.query {
			if len(vs) != 1 {
				continue
			}
			v, err := strconv.ParseFloat(vs[0], 64)
			if err != nil {
				continue
			}
			key := "size\n" + sh.victims + "\n" + t.path + "?" + t.rest(p) + "\n" + p + "\n" + strconv.FormatFloat(sh.share, 'g', -1, 64)
			heavy := t.path + "?" + p + "=N"
			if rest := t.rest(p); rest != "" {
				heavy = t.path + "?" + rest + "&" + p + "=N"
			}
			addTo(key, candidate{kind: "size", param: p, heavy: heavy, names: sh.names}, member{sh.name, v})
		}
	}
	// A scenario with the same cheap classes and no heavy class is the 0 % point
	// of every share family.
	for _, sh := range shapes {
		if sh.heavy != nil {
			continue
		}
		for _, key := range order {
			c := cands[key]
			if c.kind == "share" && strings.HasPrefix(key, "share\n"+sh.victims+"\n") {
				c.members = append(c.members, member{sh.name, 0})
			}
		}
	}

	var fams []*Family
	var omitted []Omission
	for _, key := range order {
		c := cands[key]
		xs := map[float64]bool{}
		for _, m := range c.members {
			xs[m.x] = true
		}
		if len(xs) < 2 || len(xs) != len(c.members) {
			continue
		}
		slices.SortFunc(c.members, func(a, b member) int { return cmp.Compare(a.x, b.x) })
		f := &Family{Kind: c.kind, Param: c.param, Heavy: c.heavy, Victims: c.names}
		for _, m := range c.members {
			f.Scenarios = append(f.Scenarios, m.scenario)
			f.X = append(f.X, m.x)
		}
		// The highest offered rate every scenario of the family was run at.
		var common []float64
		for i, name := range f.Scenarios {
			rates := r.Scenario(name).Rates
			if i == 0 {
				common = slices.Clone(rates)
				continue
			}
			common = slices.DeleteFunc(common, func(x float64) bool { return !slices.Contains(rates, x) })
		}
		if len(common) == 0 {
			omitted = append(omitted, Omission{Family: "hol", Title: "Head-of-line blocking: " + strings.Join(f.Scenarios, ", "),
				Reason: "scenarios " + join(f.Scenarios) + " differ only in the heavy class but share no offered rate, so their victims' p99 cannot be compared"})
			continue
		}
		f.Rate = common[len(common)-1]
		fams = append(fams, f)
	}
	if len(fams) == 0 && len(omitted) == 0 {
		omitted = append(omitted, Omission{Family: "hol", Title: "Head-of-line blocking",
			Reason: "no two scenarios of this run have mixes that differ only in the heavy class (the same cheap classes with one heavy class at another share or work size), so there is nothing to compare; add e.g. the same CPU mix at 1 % and 5 % heavy to the plan"})
	}
	return fams, omitted
}

// loopDelay returns the event loop's delay of a snapshot: its own, or the
// worst child's for a cluster supervisor.
func loopDelay(s *stats.Snapshot) *stats.HistSummary {
	if s.LoopDelay != nil {
		return s.LoopDelay
	}
	var w *stats.HistSummary
	for i := range s.Procs {
		if d := loopDelay(&s.Procs[i]); d != nil && (w == nil || d.MaxUs > w.MaxUs) {
			w = d
		}
	}
	return w
}

func scenarioAt(s string, rate float64) string { return fmt.Sprintf("%s at %s", s, units.Rate(rate)) }
