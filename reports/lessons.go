package reports

// The seeds' lessons, each checked against this run: what the report and
// `concbench run` open with. A lesson is found by what the scenarios ask for
// (their targets, parsed by workloads.Parse), never by scenario names, so any
// plan that measures it is judged; the figures are the groups' (aggregate.go)
// and the diagnosis's (findings.go).

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/units"
	"github.com/concbench/concbench/workloads"
)

// Thresholds of the lessons: a lesson is "reproduced" only with this margin.
const (
	// LessonMargin: a model that runs heavy work on its one loop must show a
	// cheap-request p99 at least this multiple of the best model that keeps
	// it off the loop (and nextTick chunking of setImmediate chunking).
	LessonMargin = 5.0
	// LessonThreadGrowth and LessonRSSGrowth: holding the same I/O waits,
	// thread-per-request's peak OS threads and peak RSS must be at least
	// these multiples of the event loop's.
	LessonThreadGrowth = 4.0
	LessonRSSGrowth    = 1.5
	// LessonRegexGrowth: backtracking's time per match must grow by at least
	// this factor per extra character (×2 in theory); LessonRE2Flat: RE2's
	// by at most this factor per character.
	LessonRegexGrowth = 1.5
	LessonRE2Flat     = 1.1
	// LessonTimeoutSlackMs: a backtracking match with timeout_ms must be
	// answered within the timeout plus this (regexp2 reads its clock about
	// every 100 ms).
	LessonTimeoutSlackMs = 250
	// LessonClusterGain: a cluster must cut the single loop's cheap p99 at
	// least by this factor to buy cores back.
	LessonClusterGain = 2.0
	// LessonTinyIters: a heavy /cpu class of at most this many rounds is tiny
	// work; offloading it "costs more" when the offload model's service p50
	// or CPU per 1000 requests is at least LessonTinyCost times the event
	// loop's (there is nothing to save: tiny work blocks no one).
	LessonTinyIters = 1000
	LessonTinyCost  = 1.1
	// LessonTinyGapMs: offloading made tiny requests slower only when their
	// service p50 grew by at least this much (two hand-offs between threads
	// are tens of µs; the generator's timer grain is about as fine).
	LessonTinyGapMs = 0.05
)

// The models a lesson compares, by catalog name.
const (
	loopModel    = "eventloop"
	offloadModel = "offload"
	threadModel  = "thread"
	clusterModel = "cluster"
)

// offLoopForCPU keep CPU work off the loop thread; offLoopForBlock keep a
// blocking sleep off it (offload runs /io on its loop).
var (
	offLoopForCPU   = []string{offloadModel, threadModel, "goroutine"}
	offLoopForBlock = []string{threadModel, "goroutine"}
)

// LessonStatus is a lesson's outcome in this run.
type LessonStatus int

const (
	// NotMeasurable: the run has no scenario or model that measures it, or
	// the machine cannot (a cluster on one CPU).
	NotMeasurable LessonStatus = iota
	Reproduced
	NotReproduced
)

func (s LessonStatus) String() string {
	switch s {
	case Reproduced:
		return "reproduced"
	case NotReproduced:
		return "not reproduced"
	}
	return "not measurable here"
}

// Lesson is one of the seeds' claims and what this run says of it.
type Lesson struct {
	Claim  string
	Status LessonStatus
	// Evidence are the run's figures for (or against) the claim.
	Evidence []string
	// Why says why it was not reproduced or not measurable ("" when reproduced).
	Why string
}

// part is one measured (or unmeasurable) half of a lesson.
type part struct {
	measured, holds bool
	evidence, why   string
}

// lessonOf combines parts: reproduced when every part was measured and holds,
// not reproduced when a measured part does not hold, not measurable otherwise.
func lessonOf(claim string, parts ...part) Lesson {
	l := Lesson{Claim: claim, Status: Reproduced}
	var failed, unmeasured []string
	for _, p := range parts {
		if p.evidence != "" {
			l.Evidence = append(l.Evidence, p.evidence)
		}
		switch {
		case !p.measured:
			unmeasured = append(unmeasured, p.why)
		case !p.holds:
			failed = append(failed, p.why)
		}
	}
	switch {
	case len(failed) > 0:
		l.Status, l.Why = NotReproduced, strings.Join(failed, "; ")
	case len(unmeasured) > 0:
		l.Status, l.Why = NotMeasurable, strings.Join(unmeasured, "; ")
	}
	return l
}

func (r *Report) buildLessons() {
	cpu := r.lessonScenario(func(q workloads.Request) bool {
		return q.Route == workloads.RouteCPU && q.Chunk == 0 && q.Iters > LessonTinyIters
	})
	r.Lessons = []Lesson{
		lessonOf("CPU work on the event loop blocks every request", r.blockedVersus(cpu, "hashes", offLoopForCPU)),
		r.deferLesson(),
		lessonOf("a blocking sleep stalls the event loop", r.blockedVersus(r.lessonScenario(func(q workloads.Request) bool {
			return q.Route == workloads.RouteIO && q.Block
		}), "blocking sleeps", offLoopForBlock)),
		r.ioLesson(),
		r.regexLesson(),
		lessonOf("an offload pool restores cheap latency until it saturates (then 503)", r.poolRestores(cpu), r.poolSaturates()),
		lessonOf("a cluster buys cores back", r.clusterPart(cpu)),
		lessonOf("offloading tiny work costs more than it saves", r.tinyPart()),
	}
}

// lessonScenario returns the first scenario with cheap classes whose heavy
// classes all satisfy is, or nil.
func (r *Report) lessonScenario(is func(workloads.Request) bool) *Scenario {
	for _, s := range r.Scenarios {
		if reqs, victims := heavyRequests(s); len(reqs) > 0 && victims && !slices.ContainsFunc(reqs, func(q workloads.Request) bool { return !is(q) }) {
			return s
		}
	}
	return nil
}

// heavyRequests parses s's heavy classes, and says whether it has cheap ones.
func heavyRequests(s *Scenario) (reqs []workloads.Request, victims bool) {
	for _, c := range s.Mix {
		if !c.Heavy {
			victims = true
			continue
		}
		if q, ok := parseRequest(c.Target); ok {
			reqs = append(reqs, q)
		}
	}
	return reqs, victims
}

// parseRequest parses a mix target as the servers do.
func parseRequest(target string) (workloads.Request, bool) {
	u, err := url.Parse(target)
	if err != nil {
		return workloads.Request{}, false
	}
	q, perr := workloads.Parse("GET", u.Path, u.RawQuery)
	return q, perr == nil
}

// measured returns model's group in s at its reference rate when it was
// measured validly, else nil.
func (r *Report) measured(model string, s *Scenario) *Group {
	if s == nil {
		return nil
	}
	if g := r.Group(model, s.Name, s.RefRate); g != nil && !g.Invalid {
		return g
	}
	return nil
}

// bestVictim returns, of models, the valid group in s with the lowest cheap p99.
func (r *Report) bestVictim(s *Scenario, models []string) *Group {
	var best *Group
	for _, m := range models {
		if g := r.measured(m, s); g != nil && g.Victim.OK() && (best == nil || g.Victim.P99.Med < best.Victim.P99.Med) {
			best = g
		}
	}
	return best
}

// blockedVersus: in s, the event loop's cheap p99 against the best model of
// off (which keep work off the loop), and whether its loop was blocked.
func (r *Report) blockedVersus(s *Scenario, work string, off []string) part {
	if s == nil {
		return part{why: "no scenario mixes " + work + " with cheap requests"}
	}
	at := scenarioAt(s.Name, s.RefRate)
	loop, best := r.measured(loopModel, s), r.bestVictim(s, off)
	if loop == nil || !loop.Victim.OK() || best == nil {
		return part{why: fmt.Sprintf("%s: needs %s and one of %s measured validly", at, loopModel, join(off))}
	}
	x := loop.Victim.P99.Med / math.Max(best.Victim.P99.Med, 1e-3)
	ev := fmt.Sprintf("%s: %s cheap p99 %s", at, loopModel, units.Ms(loop.Victim.P99.Med))
	if l := loop.Loop; l != nil {
		ev += fmt.Sprintf(" (loop delay max %s)", units.Ms(l.Max.Med))
	}
	ev += fmt.Sprintf(" vs %s %s: %s", best.Model, units.Ms(best.Victim.P99.Med), times(x))
	if r.diagnosisFor("loop-blocked", loopModel, s.Name, s.RefRate) != "" {
		ev += "; the loop was diagnosed blocked"
	}
	p := part{measured: true, holds: x >= LessonMargin, evidence: ev}
	if !p.holds {
		p.why = fmt.Sprintf("%s: %s's cheap p99 was %s %s's, under the %s margin", at, loopModel, times(x), best.Model, times(LessonMargin))
	}
	return p
}

func (r *Report) deferLesson() Lesson {
	const claim = "nextTick deferral is not parallelism; setImmediate chunking is fair"
	chunked := func(d workloads.Defer) *Scenario {
		return r.lessonScenario(func(q workloads.Request) bool {
			return q.Route == workloads.RouteCPU && q.Chunk > 0 && q.Defer == d
		})
	}
	tick, imm := chunked(workloads.DeferTick), chunked(workloads.DeferLoop)
	if tick == nil || imm == nil {
		return lessonOf(claim, part{why: "needs two scenarios mixing chunked hashes (defer=tick and defer=loop) with cheap requests"})
	}
	t, l := r.measured(loopModel, tick), r.measured(loopModel, imm)
	if t == nil || l == nil || !t.Victim.OK() || !l.Victim.OK() {
		return lessonOf(claim, part{why: loopModel + " was not measured validly in both"})
	}
	x := t.Victim.P99.Med / math.Max(l.Victim.P99.Med, 1e-3)
	p := part{measured: true, holds: x >= LessonMargin,
		evidence: fmt.Sprintf("%s cheap p99: %s with defer=tick (%s), %s with defer=loop (%s): %s",
			loopModel, units.Ms(t.Victim.P99.Med), scenarioAt(tick.Name, tick.RefRate), units.Ms(l.Victim.P99.Med), scenarioAt(imm.Name, imm.RefRate), times(x))}
	if !p.holds {
		p.why = fmt.Sprintf("defer=tick's cheap p99 was %s defer=loop's, under the %s margin", times(x), times(LessonMargin))
	}
	return lessonOf(claim, p)
}

func (r *Report) ioLesson() Lesson {
	const claim = "an event loop holds many I/O waits with flat memory and threads; thread-per-request grows both"
	var s *Scenario
	for _, sc := range r.Scenarios {
		allIO := len(sc.Mix) > 0
		for _, c := range sc.Mix {
			q, ok := parseRequest(c.Target)
			allIO = allIO && ok && q.Route == workloads.RouteIO && !q.Block
		}
		if allIO {
			s = sc
			break
		}
	}
	if s == nil {
		return lessonOf(claim, part{why: "no scenario is all non-blocking I/O waits"})
	}
	at := scenarioAt(s.Name, s.RefRate)
	loop, th := r.measured(loopModel, s), r.measured(threadModel, s)
	if loop == nil || th == nil || !loop.PeakThreads.OK() || !th.PeakThreads.OK() || !loop.PeakRSS.OK() || !th.PeakRSS.OK() {
		return lessonOf(claim, part{why: fmt.Sprintf("%s: needs %s and %s measured validly with their threads and RSS", at, loopModel, threadModel)})
	}
	desc := func(g *Group) string {
		return fmt.Sprintf("%s %s in flight, %s threads, %s", g.Model, units.Num(g.PeakInFlight.Med), units.Num(g.PeakThreads.Med), units.MiB(g.PeakRSS.Med))
	}
	tx, rx := th.PeakThreads.Med/math.Max(loop.PeakThreads.Med, 1), th.PeakRSS.Med/math.Max(loop.PeakRSS.Med, 1)
	p := part{measured: true, holds: tx >= LessonThreadGrowth && rx >= LessonRSSGrowth && loop.KeptUp(),
		evidence: fmt.Sprintf("%s (peaks): %s; %s: threads %s, RSS %s", at, desc(loop), desc(th), times(tx), times(rx))}
	switch {
	case !loop.KeptUp():
		p.why = at + ": " + loopModel + " did not keep up"
	case !p.holds:
		p.why = fmt.Sprintf("%s: thread's threads %s and RSS %s the loop's, under %s and %s", at, times(tx), times(rx), times(LessonThreadGrowth), times(LessonRSSGrowth))
	}
	return lessonOf(claim, p)
}

func (r *Report) regexLesson() Lesson {
	const claim = "backtracking time doubles per character while RE2 stays flat, and a timeout bounds the damage"
	var bt, re2 []regexPoint
	for _, p := range r.regexPoints() {
		switch {
		case p.invalid:
		case p.engine == workloads.EngineBacktrack:
			bt = append(bt, p)
		default:
			re2 = append(re2, p)
		}
	}
	growth := func(ps []regexPoint) (float64, string) {
		lo, hi := ps[0], ps[len(ps)-1]
		g := math.Pow(hi.service.Med/math.Max(lo.service.Med, 1e-3), 1/float64(hi.n-lo.n))
		return g, fmt.Sprintf("n=%d %s → n=%d %s (%s per character)", lo.n, units.Ms(lo.service.Med), hi.n, units.Ms(hi.service.Med), times(g))
	}
	var doubling, flat part
	if len(bt) < 2 {
		doubling.why = "needs valid backtracking matches at two input lengths"
	} else {
		g, ev := growth(bt)
		doubling = part{measured: true, holds: g >= LessonRegexGrowth, evidence: "backtracking " + ev}
		if !doubling.holds {
			doubling.why = fmt.Sprintf("backtracking grew %s per character, under %s", times(g), times(LessonRegexGrowth))
		}
	}
	switch {
	case len(re2) >= 2:
		g, ev := growth(re2)
		flat = part{measured: true, holds: g <= LessonRE2Flat, evidence: "RE2 " + ev}
		if !flat.holds {
			flat.why = fmt.Sprintf("RE2 grew %s per character, over %s", times(g), times(LessonRE2Flat))
		}
	case len(re2) == 1 && len(bt) > 0:
		// One length: RE2 must beat backtracking at it by the lesson's margin.
		i := slices.IndexFunc(bt, func(p regexPoint) bool { return p.n == re2[0].n })
		if i < 0 {
			flat.why = "RE2 was measured at one length, where backtracking was not"
			break
		}
		x := bt[i].service.Med / math.Max(re2[0].service.Med, 1e-3)
		flat = part{measured: true, holds: x >= LessonMargin,
			evidence: fmt.Sprintf("at n=%d RE2 %s vs backtracking %s", re2[0].n, units.Ms(re2[0].service.Med), units.Ms(bt[i].service.Med))}
		if !flat.holds {
			flat.why = fmt.Sprintf("at n=%d backtracking was only %s RE2", re2[0].n, times(x))
		}
	default:
		flat.why = "needs valid RE2 matches"
	}
	return lessonOf(claim, doubling, flat, r.timeoutPart())
}

// timeoutPart: the fastest answers of a backtracking class with a timeout —
// its failed requests (the 503s of matches cut off), or its successes when
// none timed out — which must stay within the timeout (plus the clock's
// slack), some of them 503s. The p99 of a repetition's failed requests is
// their response time (from the intended send); the median over the
// repetitions is taken.
func (r *Report) timeoutPart() part {
	var best *ClassFigures
	var bestModel string
	var bestP99, limit float64
	for _, g := range r.Groups {
		if g.Invalid {
			continue
		}
		for i := range g.Classes {
			cf := &g.Classes[i]
			q, ok := parseRequest(cf.Target)
			if !cf.Heavy || !ok || q.Route != workloads.RouteRegex || q.Engine != workloads.EngineBacktrack || q.Timeout == 0 {
				continue
			}
			p99 := math.NaN()
			if cf.ErrorRate.OK() && cf.ErrorRate.Med > 0 {
				p99 = failedP99(g, cf.Name)
			} else if cf.Service.OK() {
				p99 = cf.Service.P99.Med
			}
			if math.IsNaN(p99) {
				continue
			}
			if best == nil || p99 < bestP99 {
				best, bestModel, bestP99, limit = cf, g.Model, p99, float64(q.Timeout.Milliseconds())
			}
		}
	}
	if best == nil {
		return part{why: "no validly measured backtracking class sets timeout_ms"}
	}
	p := part{measured: true, holds: bestP99 <= limit+LessonTimeoutSlackMs && best.ErrorRate.Med > 0,
		evidence: fmt.Sprintf("%s on %s: p99 %s, %s answered with an error (503, the match cut off)",
			best.Target, bestModel, units.Ms(bestP99), units.Pct(best.ErrorRate.Med))}
	if !p.holds {
		p.why = fmt.Sprintf("the timed-out class's p99 %s is not within %s + %d ms, or none timed out", units.Ms(bestP99), units.Ms(limit), LessonTimeoutSlackMs)
	}
	return p
}

// failedP99 is the median over a group's repetitions of the p99 response
// time of class's failed requests, NaN when none failed.
func failedP99(g *Group, class string) float64 {
	var p99s []float64
	for _, c := range g.Used {
		for _, cl := range c.Classes {
			if cl.Name == class && cl.Failed != nil && cl.Failed.Count > 0 {
				p99s = append(p99s, cl.Failed.P99)
			}
		}
	}
	return statOf(p99s).Med // NaN when none failed
}

func (r *Report) poolRestores(cpu *Scenario) part {
	if cpu == nil {
		return part{why: "no scenario mixes hashes with cheap requests"}
	}
	at := scenarioAt(cpu.Name, cpu.RefRate)
	loop, off := r.measured(loopModel, cpu), r.measured(offloadModel, cpu)
	if loop == nil || off == nil || !loop.Victim.OK() || !off.Victim.OK() {
		return part{why: fmt.Sprintf("%s: needs %s and %s measured validly", at, loopModel, offloadModel)}
	}
	x := loop.Victim.P99.Med / math.Max(off.Victim.P99.Med, 1e-3)
	p := part{measured: true, holds: x >= LessonMargin,
		evidence: fmt.Sprintf("%s: %s cheap p99 %s vs %s's %s (%s)", at, offloadModel, units.Ms(off.Victim.P99.Med), loopModel, units.Ms(loop.Victim.P99.Med), times(x))}
	if !p.holds {
		p.why = fmt.Sprintf("%s: the loop's cheap p99 was only %s the pool's", at, times(x))
	}
	return p
}

// poolSaturates: a scenario where the offload pool's heavy requests got
// errors (a full queue answers 503) while its cheap ones stayed fast.
func (r *Report) poolSaturates() part {
	for _, s := range r.Scenarios {
		g := r.measured(offloadModel, s)
		if g == nil || g.Pool == nil {
			continue
		}
		for _, cf := range g.Classes {
			// Only /cpu runs on the pool; a /regex with a timeout answers 503 too.
			q, ok := parseRequest(cf.Target)
			if !cf.Heavy || !ok || q.Route != workloads.RouteCPU || !cf.ErrorRate.OK() || cf.ErrorRate.Med <= 0 || g.Pool.QueueDepthPeak.Med <= 0 {
				continue
			}
			ev := fmt.Sprintf("%s: %s of %s answered with an error (queue peak %s)",
				scenarioAt(s.Name, s.RefRate), units.Pct(cf.ErrorRate.Med), cf.Target, units.Num(g.Pool.QueueDepthPeak.Med))
			if g.Victim.OK() {
				ev += ", cheap p99 " + units.Ms(g.Victim.P99.Med)
			}
			return part{measured: true, holds: true, evidence: ev}
		}
	}
	return part{why: "no scenario saturated the offload pool (no heavy request of it was refused)"}
}

func (r *Report) clusterPart(cpu *Scenario) part {
	cpus := r.Run.Env.Cores
	if set, err := cpuset.Parse(r.Run.Env.Pinning.ServerCPUs); r.Run.Env.Pinning.ServerCPUs != "" && err == nil {
		cpus = len(set)
	}
	var ev string
	if loop, cl := r.measured(loopModel, cpu), r.measured(clusterModel, cpu); loop != nil && cl != nil && loop.Victim.OK() && cl.Victim.OK() {
		ev = fmt.Sprintf("%s: %s cheap p99 %s vs %s's %s", scenarioAt(cpu.Name, cpu.RefRate),
			clusterModel, units.Ms(cl.Victim.P99.Med), loopModel, units.Ms(loop.Victim.P99.Med))
		if cpus >= 2 {
			x := loop.Victim.P99.Med / math.Max(cl.Victim.P99.Med, 1e-3)
			p := part{measured: true, holds: x >= LessonClusterGain, evidence: ev}
			if !p.holds {
				p.why = fmt.Sprintf("on %d CPUs the cluster cut the loop's cheap p99 only %s, under %s", cpus, times(x), times(LessonClusterGain))
			}
			return p
		}
	}
	if cpus < 2 {
		return part{evidence: ev, why: fmt.Sprintf("the server had %d CPU: a cluster needs at least 2 to run two loops at once, so this run cannot say", cpus)}
	}
	return part{why: "needs a scenario mixing hashes with cheap requests, with " + loopModel + " and " + clusterModel + " measured validly"}
}

func (r *Report) tinyPart() part {
	s := r.lessonScenarioAny(func(q workloads.Request) bool {
		return q.Route == workloads.RouteCPU && q.Chunk == 0 && q.Iters <= LessonTinyIters
	})
	if s == nil {
		return part{why: fmt.Sprintf("no scenario's heavy classes are tiny hashes (at most %s rounds)", units.Num(LessonTinyIters))}
	}
	at := scenarioAt(s.Name, s.RefRate)
	loop, off := r.measured(loopModel, s), r.measured(offloadModel, s)
	if loop == nil || off == nil || !loop.CPUPer1k.OK() || !off.CPUPer1k.OK() {
		return part{why: fmt.Sprintf("%s: needs %s and %s measured validly with their CPU", at, loopModel, offloadModel)}
	}
	if len(loop.HeavyNames) == 0 {
		return part{why: at + ": no heavy class measured"}
	}
	lc, oc := loop.Class(loop.HeavyNames[0]), off.Class(loop.HeavyNames[0])
	if lc == nil || oc == nil || !lc.Service.OK() || !oc.Service.OK() {
		return part{why: at + ": no service time of the tiny class"}
	}
	// The cost of a hand-off each way shows in each request's time (a
	// queue, a wake-up of a worker thread and one of the loop) and in CPU;
	// on loopback the CPU of the network stack dwarfs the hand-off's, so
	// either is evidence: the lesson holds when offloading made tiny
	// requests slower or dearer by LessonTinyCost, with nothing to save.
	x := off.CPUPer1k.Med / math.Max(loop.CPUPer1k.Med, 1e-9)
	y := oc.Service.P50.Med / math.Max(lc.Service.P50.Med, 1e-6)
	// A 10 % gap of a ~0.1 ms p50 is timer noise: the service-time test
	// also needs the gap of a hand-off each way (LessonTinyGapMs).
	slower := y >= LessonTinyCost && oc.Service.P50.Med-lc.Service.P50.Med >= LessonTinyGapMs
	p := part{measured: true, holds: x >= LessonTinyCost || slower,
		evidence: fmt.Sprintf("%s: service p50 %s %s vs %s %s (%s); CPU per 1000 requests %s vs %s (%s)",
			at, offloadModel, units.Ms(oc.Service.P50.Med), loopModel, units.Ms(lc.Service.P50.Med), times(y), units.Ms(off.CPUPer1k.Med), units.Ms(loop.CPUPer1k.Med), times(x))}
	if !p.holds {
		p.why = fmt.Sprintf("%s: offloading cost %s the loop's service time and %s its CPU, both under %s", at, times(y), times(x), times(LessonTinyCost))
	}
	return p
}

// lessonScenarioAny is lessonScenario without the need for cheap classes.
func (r *Report) lessonScenarioAny(is func(workloads.Request) bool) *Scenario {
	for _, s := range r.Scenarios {
		if reqs, _ := heavyRequests(s); len(reqs) > 0 && !slices.ContainsFunc(reqs, func(q workloads.Request) bool { return !is(q) }) {
			return s
		}
	}
	return nil
}

// times renders a ratio: "×5.2".
func times(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("×%.0f", x)
	}
	return fmt.Sprintf("×%.1f", x)
}

// LessonCounts counts the lessons by status.
func (r *Report) LessonCounts() (reproduced, notReproduced, notMeasurable int) {
	for _, l := range r.Lessons {
		switch l.Status {
		case Reproduced:
			reproduced++
		case NotReproduced:
			notReproduced++
		default:
			notMeasurable++
		}
	}
	return
}

// LessonsSummary is the one-line count, e.g. "5 of 8 reproduced, 1 not
// reproduced, 2 not measurable here".
func (r *Report) LessonsSummary() string {
	a, b, c := r.LessonCounts()
	return fmt.Sprintf("%d of %d reproduced, %d not reproduced, %d not measurable here", a, len(r.Lessons), b, c)
}

// writeLessonsText writes the lessons for a terminal.
func (r *Report) writeLessonsText(w io.Writer) {
	fmt.Fprintf(w, "lessons (%s):\n", r.LessonsSummary())
	for _, l := range r.Lessons {
		fmt.Fprintf(w, "  %s: %s", l.Status, l.Claim)
		if l.Why != "" {
			fmt.Fprintf(w, " (%s)", l.Why)
		}
		io.WriteString(w, "\n")
		for _, e := range l.Evidence {
			fmt.Fprintf(w, "      %s\n", e)
		}
	}
	io.WriteString(w, "\n")
}

// writeLessonsMarkdown writes the Lessons section of summary.md.
func (r *Report) writeLessonsMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Lessons\n\nThe seeds' lessons, checked against this run: %s.\n\n", r.LessonsSummary())
	for _, l := range r.Lessons {
		fmt.Fprintf(w, "- **%s**: %s", l.Status, mdEscape(l.Claim))
		if l.Why != "" {
			fmt.Fprintf(w, " (%s)", mdEscape(l.Why))
		}
		io.WriteString(w, "\n")
		for _, e := range l.Evidence {
			fmt.Fprintf(w, "  - %s\n", mdEscape(e))
		}
	}
	io.WriteString(w, "\n")
}
