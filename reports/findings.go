package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

// Thresholds of the diagnosis (in the spirit of clinic.js Doctor).
const (
	// LoopBlockedMedianMs and LoopBlockedMaxMs: a loop whose delay median or
	// maximum reaches them "was blocked".
	LoopBlockedMedianMs = 10
	LoopBlockedMaxMs    = 100
	// PoolDominates: the pool is the bottleneck when the mean queue wait is at
	// least this share of the heavy classes' mean response time.
	PoolDominates = 0.5
	// ThreadsPerRequest: threads that grow by at least this many per extra
	// request in flight, over at least MinConcurrencySpan requests, are
	// per-request threads.
	ThreadsPerRequest  = 0.5
	MinConcurrencySpan = 32
	// TieWithin: with a single repetition (no spread to compare), a
	// runner-up whose cheap-request p99 is within this factor of the best
	// model's fits the workload as well. With repetitions, models tie when
	// their intervals overlap (see tied).
	TieWithin = 1.10
)

// Diagnosis is one rule of the diagnosis that fired.
type Diagnosis struct {
	// Kind is loop-blocked, pool-bottleneck, per-request-threads,
	// over-capacity, server-failed or generator-bound.
	Kind string
	// Model is empty for a finding about the run (generator-bound cells).
	Model   string
	Verdict string
	// Hint says what it means for a user of the model.
	Hint     string
	Evidence []string
}

// Advice is the answer for one scenario: the best valid model and why.
type Advice struct {
	Scenario, Mix string
	Rate          float64
	// Best is empty when no model kept the offered rate. Tie lists the
	// models that kept up and cannot be told apart from Best (see tied):
	// the advice is then a tie, not a winner.
	Best string
	Tie  []string
	Text string
}

// Pick is the advice's answer in a few words: "goroutine", "tie: goroutine,
// offload" or "no model".
func (a Advice) Pick() string {
	switch {
	case a.Best == "":
		return "no model"
	case len(a.Tie) > 0:
		return "tie: " + strings.Join(append([]string{a.Best}, a.Tie...), ", ")
	}
	return a.Best
}

// tied reports whether figure b cannot be told apart from a: both come with
// an interval from their repetitions (the 95 % confidence interval of the
// median with ≥ 6, else their min–max) and the intervals overlap. Without
// repetitions to compare, b ties when it is within TieWithin of a.
func tied(a, b Stat) bool {
	alo, ahi, aok := a.interval()
	blo, bhi, bok := b.interval()
	if aok && bok {
		return alo <= bhi && blo <= ahi
	}
	return b.Med <= TieWithin*a.Med
}

func (r *Report) diagnose() {
	for _, m := range r.Models {
		var loop, pool, over, failed []string
		for _, g := range r.Groups {
			if g.Model != m || g.Invalid {
				continue
			}
			at := scenarioAt(g.Scenario, g.Rate)
			if l := g.Loop; l != nil && (l.P50.Med >= LoopBlockedMedianMs || l.Max.Med >= LoopBlockedMaxMs) {
				loop = append(loop, fmt.Sprintf("%s: loop delay median %s, p99 %s, max %s", at, units.Ms(l.P50.Med), units.Ms(l.P99.Med), units.Ms(l.Max.Med)))
			}
			if p := g.Pool; p != nil && p.HeavyResponseMean.OK() && p.HeavyResponseMean.Med > 0 &&
				p.QueueWaitMean.Med >= PoolDominates*p.HeavyResponseMean.Med {
				pool = append(pool, fmt.Sprintf("%s: queue wait mean %s of a %s heavy response (%s), %d workers, queue peak %s",
					at, units.Ms(p.QueueWaitMean.Med), units.Ms(p.HeavyResponseMean.Med), units.Share(p.QueueWaitMean.Med/p.HeavyResponseMean.Med),
					p.Workers, units.Num(p.QueueDepthPeak.Med)))
			}
			if g.OverCapacity {
				over = append(over, fmt.Sprintf("%s: achieved %s of %s, %s errors", at, units.Num(g.Achieved.Med), units.Rate(g.Rate), units.Pct(g.ErrorRate.Med)))
			}
		}
		for _, g := range r.Groups {
			if g.Model != m {
				continue
			}
			for _, c := range g.Cells {
				if c.Validity.ServerFailed() {
					failed = append(failed, c.ID+": the server failed: "+reasonsText(c))
				}
			}
		}
		if len(loop) > 0 {
			r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "loop-blocked", Model: m, Verdict: "the event loop was blocked",
				Hint:     fmt.Sprintf("work ran on the loop thread long enough (delay median ≥ %d ms or max ≥ %d ms) to hold up every other request on it; move it to a worker pool or split it", LoopBlockedMedianMs, LoopBlockedMaxMs),
				Evidence: loop})
		}
		if len(pool) > 0 {
			r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "pool-bottleneck", Model: m, Verdict: "the worker pool is the bottleneck",
				Hint:     fmt.Sprintf("heavy requests spent at least %s of their response time queued for a worker; more workers (up to the cores) or less work per request", units.Share(PoolDominates)),
				Evidence: pool})
		}
		if ev := r.perRequestThreads(m); ev != "" {
			r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "per-request-threads", Model: m, Verdict: "per-request threads",
				Hint:     "OS threads and memory grow with the requests in flight: concurrency is bounded by threads and RAM, not by the CPU",
				Evidence: []string{ev}})
		}
		if len(over) > 0 {
			r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "over-capacity", Model: m, Verdict: "the server could not keep up",
				Hint: "offered faster than it could answer: its latencies are real and include the growing queue, and they are a lower bound: " +
					"the requests due but never sent waited longest and are in no histogram (as with wrk2)",
				Evidence: over})
		}
		if len(failed) > 0 {
			r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "server-failed", Model: m, Verdict: "the server failed",
				Hint:     "it died, lost or restarted a child process, or answered no request during these cells: the model did not keep up there, and their figures are not those of a working server",
				Evidence: failed})
		}
	}
	var gen []string
	for _, g := range r.Groups {
		for _, c := range g.Cells {
			if !c.Validity.Valid && !c.Validity.ServerFailed() {
				gen = append(gen, c.ID+": "+reasonsText(c))
			}
		}
	}
	if len(gen) > 0 {
		r.Diagnoses = append(r.Diagnoses, Diagnosis{Kind: "generator-bound", Verdict: "these numbers measure the load generator",
			Hint:     "the generator, not the server, limited these cells: their latencies are drawn grey and left out of every comparison",
			Evidence: gen})
	}
}

// reasonsText is an invalid cell's reasons in one line.
func reasonsText(c *result.Cell) string {
	if why := strings.Join(c.Validity.Reasons, " "); why != "" {
		return why
	}
	return "marked invalid by the run"
}

// perRequestThreads returns the evidence that model's threads grow with the
// requests in flight, or "".
func (r *Report) perRequestThreads(m string) string {
	var lo, hi *Group
	for _, g := range r.Groups {
		if g.Model != m || g.Invalid || !g.PeakInFlight.OK() || !g.PeakThreads.OK() {
			continue
		}
		if lo == nil || g.PeakInFlight.Med < lo.PeakInFlight.Med {
			lo = g
		}
		if hi == nil || g.PeakInFlight.Med > hi.PeakInFlight.Med {
			hi = g
		}
	}
	if lo == nil {
		return ""
	}
	span := hi.PeakInFlight.Med - lo.PeakInFlight.Med
	if span < MinConcurrencySpan || (hi.PeakThreads.Med-lo.PeakThreads.Med)/span < ThreadsPerRequest {
		return ""
	}
	s := fmt.Sprintf("threads %s → %s as peak in flight went %s → %s (%s → %s)",
		units.Num(lo.PeakThreads.Med), units.Num(hi.PeakThreads.Med), units.Num(lo.PeakInFlight.Med), units.Num(hi.PeakInFlight.Med),
		scenarioAt(lo.Scenario, lo.Rate), scenarioAt(hi.Scenario, hi.Rate))
	if lo.PeakRSS.OK() && hi.PeakRSS.OK() {
		s += fmt.Sprintf("; peak RSS %s → %s", units.MiB(lo.PeakRSS.Med), units.MiB(hi.PeakRSS.Med))
	}
	return s
}

// diagnosisFor returns the evidence of kind for model in scenario at rate, or "".
func (r *Report) diagnosisFor(kind, model, scenario string, rate float64) string {
	prefix := scenarioAt(scenario, rate) + ": "
	for _, d := range r.Diagnoses {
		if d.Kind != kind || d.Model != model {
			continue
		}
		for _, e := range d.Evidence {
			if rest, ok := strings.CutPrefix(e, prefix); ok {
				return rest
			}
		}
	}
	return ""
}

func (r *Report) advise() {
	for _, s := range r.Scenarios {
		a := Advice{Scenario: s.Name, Mix: s.MixText(), Rate: s.RefRate}
		gs := r.groupsAt(s.Name, s.RefRate)
		var valid, kept []*Group
		var failed []string // sentences: models whose server failed, which lose
		generatorOnly := false
		for _, g := range gs {
			switch {
			case g.ServerFailed() && g.Invalid:
				failed = append(failed, fmt.Sprintf("%s did not keep up: its server failed.", g.Model))
			case g.ServerFailed():
				failed = append(failed, fmt.Sprintf("%s did not keep up: its server failed in %d of %d repetitions.", g.Model, g.ServerFailedReps, len(g.Cells)))
			case g.Invalid:
				generatorOnly = true
			}
			if g.Invalid || !g.Victim.OK() {
				continue
			}
			valid = append(valid, g)
			if g.KeptUp() {
				kept = append(kept, g)
			}
		}
		byP99 := func(a, b *Group) int { return cmp.Compare(a.Victim.P99.Med, b.Victim.P99.Med) }
		slices.SortStableFunc(kept, byP99)
		slices.SortStableFunc(valid, byP99)
		at := units.Rate(s.RefRate)
		failedText := ""
		if len(failed) > 0 {
			failedText = " " + strings.Join(failed, " ")
		}
		if !slices.ContainsFunc(gs, func(g *Group) bool { return len(g.VictimNames) > 0 }) {
			a.Text = "This scenario has no cheap (victim) class to protect, so no model is ranked; compare the heavy columns of the verdict table." + failedText
			r.Advice = append(r.Advice, a)
			continue
		}
		if len(kept) == 0 {
			switch {
			case len(valid) == 0 && len(failed) == 0:
				a.Text = fmt.Sprintf("No model was measured validly at %s: the load generator limited every cell.", at)
			case len(valid) == 0:
				a.Text = fmt.Sprintf("No model kept up at %s.%s", at, failedText)
				if generatorOnly {
					a.Text += " The load generator limited the other cells."
				}
			default:
				top := slices.MaxFunc(valid, func(a, b *Group) int { return cmp.Compare(a.Goodput.Med, b.Goodput.Med) })
				if lag := top.LaggingClass(); lag != "" && !top.OverCapacity && top.Goodput.Med >= KeptFraction*top.Rate*top.unboundedShare() {
					a.Text = fmt.Sprintf("No model delivered %s of every class's requests as successful answers at %s: even %s, with the most answers (%s), delivered %s of its %s requests.%s",
						units.Share(KeptFraction), at, top.Model, units.Rate(top.Goodput.Med), units.Share(top.Class(lag).Delivered.Med), lag, failedText)
					break
				}
				a.Text = fmt.Sprintf("No model delivered %s of the offered %s as successful answers; the most was %s (%s).%s",
					units.Share(KeptFraction), at, top.Model, units.Rate(top.Goodput.Med), failedText)
			}
			r.Advice = append(r.Advice, a)
			continue
		}
		best := kept[0]
		a.Best = best.Model
		var b strings.Builder
		fmt.Fprintf(&b, "Lowest cheap-request p99 among the models that kept up: %s", msText(best.Victim.P99))
		var others []string
		if len(kept) > 1 {
			others = append(others, fmt.Sprintf("next %s %s", kept[1].Model, msText(kept[1].Victim.P99)))
		}
		worst := valid[len(valid)-1]
		if worst != best && (len(kept) < 2 || worst != kept[1]) {
			w := fmt.Sprintf("worst %s %s", worst.Model, msText(worst.Victim.P99))
			if ev := r.diagnosisFor("loop-blocked", worst.Model, s.Name, s.RefRate); ev != "" {
				w += " because its event loop was blocked"
			} else if lag := worst.LaggingClass(); lag != "" && !worst.OverCapacity {
				w += fmt.Sprintf(" while failing its %s requests", lag)
			} else if !worst.KeptUp() {
				w += " without keeping up"
			}
			others = append(others, w)
		}
		if len(others) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(others, "; "))
		}
		fmt.Fprintf(&b, ", delivering %s of %s with %s errors", units.Num(best.Goodput.Med), at, units.Pct(best.ErrorRate.Med))
		if best.Heavy.OK() {
			fmt.Fprintf(&b, " and heavy p99 %s", msText(best.Heavy.P99))
		}
		b.WriteString(".")
		if best.Victim.P99.Few {
			b.WriteString(" The cheap requests were too few for a p99 that can be shown: this ranking is indicative only; run the scenario longer or faster.")
		}
		var ties []string
		var tiedGroups []*Group
		byBand := false // some tie was judged on a single repetition
		for _, g := range kept[1:] {
			if tied(best.Victim.P99, g.Victim.P99) {
				ties = append(ties, g.Model)
				tiedGroups = append(tiedGroups, g)
				_, _, a := best.Victim.P99.interval()
				_, _, b := g.Victim.P99.interval()
				byBand = byBand || !a || !b
			}
		}
		a.Tie = ties
		switch {
		case len(ties) == 0:
		case !byBand && len(ties) == 1:
			fmt.Fprintf(&b, " A tie with %s: the repetitions' p99s overlap (%s against %s), so these runs cannot tell them apart.",
				ties[0], intervalText(best.Victim.P99), intervalText(tiedGroups[0].Victim.P99))
		case !byBand:
			fmt.Fprintf(&b, " A tie with %s: their repetitions' p99s overlap, so these runs cannot tell them apart.", join(ties))
		default:
			fmt.Fprintf(&b, " A tie with %s: their repetitions' p99s overlap, or lie within %s of it where a single repetition gives no spread to compare.",
				join(ties), units.Share(TieWithin-1))
		}
		if ev := r.diagnosisFor("pool-bottleneck", best.Model, s.Name, s.RefRate); ev != "" {
			fmt.Fprintf(&b, " Its worker pool was the bottleneck for the heavy requests (%s).", ev)
		}
		if len(s.Rates) > 1 {
			if k := r.Knee(best.Model, s.Name); k.Met {
				fmt.Fprintf(&b, " It met %s up to %s.", r.SLOText, r.kneeText(best.Model, s))
			} else {
				fmt.Fprintf(&b, " It met %s at no measured rate.", r.SLOText)
			}
		}
		b.WriteString(failedText)
		a.Text = b.String()
		r.Advice = append(r.Advice, a)
	}
}

// intervalText writes a figure's interval (see Stat.interval) in ms.
func intervalText(s Stat) string {
	lo, hi, _ := s.interval()
	return units.Ms(lo) + "–" + units.Ms(hi)
}
