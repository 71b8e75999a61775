package reports

import (
	"cmp"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

// Stat is one figure of a group over its repetitions: the median (the mean of
// the two middle values for an even count) and the spread.
type Stat struct {
	Med, Min, Max float64
	// N is the number of repetitions the figure summarises; 0 means no data.
	N int
	// Lower is set on a latency figure that is only a lower bound in some
	// repetition: requests still waiting when the attack stopped (censored)
	// may lie at or below it. It is shown as "≥ 1.6 s" and never passes an
	// SLO.
	Lower bool
	// Few is set on a percentile of a distribution with too few values to
	// read it in some repetition (result.MinSamples); Samples is the fewest
	// values a repetition had. Such a figure is shown as "n = 25: too few"
	// and not drawn.
	Few     bool
	Samples int64
	// Pooled is set on a latency figure read from the repetitions' pooled
	// histogram (result.Pool): Med is then that figure, not a median of
	// per-repetition figures, while Min and Max stay the repetitions'
	// spread.
	Pooled bool
	// CILo and CIHi are the 95 % confidence interval of the repetitions'
	// median (benchmath's AssumeNothing), NaN with fewer than 6
	// repetitions, which cannot give one.
	CILo, CIHi float64
}

// interval is the range a figure's repetitions leave it in: the confidence
// interval when there is one, else the repetitions' min–max; ok is false
// with a single repetition.
func (s Stat) interval() (lo, hi float64, ok bool) {
	switch {
	case !math.IsNaN(s.CILo) && !math.IsNaN(s.CIHi) && s.N >= minCIReps:
		return s.CILo, s.CIHi, true
	case s.N >= 2:
		return s.Min, s.Max, true
	}
	return 0, 0, false
}

// minCIReps is the fewest repetitions benchmath gives a 95 % confidence
// interval of the median from.
const minCIReps = 6

// OK reports whether the figure has data.
func (s Stat) OK() bool { return s.N > 0 }

// Spread reports whether the repetitions differed.
func (s Stat) Spread() bool { return s.N > 1 && s.Max > s.Min }

func statOf(vs []float64) Stat {
	var xs []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return Stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN(), CILo: math.NaN(), CIHi: math.NaN()}
	}
	slices.Sort(xs)
	n := len(xs)
	med := xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	st := Stat{Med: med, Min: xs[0], Max: xs[n-1], N: n, CILo: math.NaN(), CIHi: math.NaN()}
	if n >= minCIReps {
		sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &benchmath.DefaultThresholds), 0.95)
		st.CILo, st.CIHi = sum.Lo, sum.Hi
	}
	return st
}

// statBy is statOf over f of every cell.
func statBy(cells []*result.Cell, f func(*result.Cell) float64) Stat {
	vs := make([]float64, len(cells))
	for i, c := range cells {
		vs[i] = f(c)
	}
	return statOf(vs)
}

// Percentiles is a latency distribution's summary over repetitions, in ms.
type Percentiles struct {
	P50, P90, P99, P999, P9999, Max, Mean Stat
}

// OK reports whether any repetition had answers.
func (p Percentiles) OK() bool { return p.P50.OK() }

// at returns the figure for one of the spectrum's levels.
func (p Percentiles) at(i int) Stat {
	return [...]Stat{p.P50, p.P90, p.P99, p.P999, p.P9999}[i]
}

// fig is one figure of one repetition's distribution: its value, whether it
// is a lower bound (censored values at or below it) and how many values it
// was read from; q is its quantile (0 for the max and the mean).
type fig struct {
	v     float64
	lower bool
	n     int64
	q     float64
}

// dist is a distribution's figures in the order of Percentiles' fields:
// P50, P90, P99, P999, P9999, Max, Mean.
type dist [7]fig

var distQuantiles = [7]float64{0.5, 0.9, 0.99, 0.999, 0.9999, 0, 0}

func distOf(l result.Latency) dist {
	vs := [7]float64{l.P50, l.P90, l.P99, l.P999, l.P9999, l.Max, l.Mean}
	var d dist
	for i, v := range vs {
		d[i] = fig{v: v, n: l.Count, q: distQuantiles[i]}
		if i < 5 {
			d[i].lower = l.LowerBound(v)
		} else {
			d[i].lower = l.Censored > 0
		}
	}
	return d
}

// enough reports whether f was read from enough values for its quantile.
func (f fig) enough() bool { return f.q == 0 || f.n >= result.MinSamples(f.q) }

func percentilesOf(ls []result.Latency) Percentiles {
	ds := make([]dist, 0, len(ls))
	for _, l := range ls {
		if l.Count > 0 {
			ds = append(ds, distOf(l))
		}
	}
	return percentilesOfDists(ds)
}

// pooledOf is the figures of one class over repetitions: pooled when every
// repetition has its histogram, medians otherwise (see pooledPercentiles).
func pooledOf(ls []result.Latency) Percentiles {
	var perRep []dist
	for _, l := range ls {
		if l.Count > 0 {
			perRep = append(perRep, distOf(l))
		}
	}
	pl, ok := result.Pool(ls)
	return pooledPercentiles(perRep, distOf(pl), ok)
}

func percentilesOfDists(kept []dist) Percentiles {
	f := func(i int) Stat {
		vs := make([]float64, 0, len(kept))
		var lower, few bool
		var fewest int64 = -1
		for _, d := range kept {
			if d[i].n == 0 {
				continue
			}
			vs = append(vs, d[i].v)
			lower = lower || d[i].lower
			few = few || !d[i].enough()
			if fewest < 0 || d[i].n < fewest {
				fewest = d[i].n
			}
		}
		st := statOf(vs)
		st.Lower, st.Few, st.Samples = lower, few, max(fewest, 0)
		return st
	}
	return Percentiles{P50: f(0), P90: f(1), P99: f(2), P999: f(3), P9999: f(4), Max: f(5), Mean: f(6)}
}

// pooledPercentiles is the figures of a distribution over repetitions:
// read from their pooled histogram (pooled, when every repetition had one:
// havePool), with the spread and confidence interval of the per-repetition
// figures perRep beside them.
func pooledPercentiles(perRep []dist, pooled dist, havePool bool) Percentiles {
	p := percentilesOfDists(perRep)
	if !havePool {
		return p
	}
	for i, st := range []*Stat{&p.P50, &p.P90, &p.P99, &p.P999, &p.P9999, &p.Max, &p.Mean} {
		f := pooled[i]
		if f.n == 0 || !st.OK() {
			continue
		}
		st.Med, st.Lower, st.Few, st.Samples, st.Pooled = f.v, f.lower, !f.enough(), f.n, true
	}
	return p
}

// worst combines several classes of one cell into the figure of their worst
// class at every percentile (a victim's p99 is the worst victim class's p99),
// taken among the classes with enough values to read that percentile; when
// none has, the figure is the fewest-valued class's, marked as too few.
func worst(ls []result.Latency) dist {
	var w dist
	for i := range w {
		best, have := fig{}, false
		var few fig
		for _, l := range ls {
			if l.Count == 0 {
				continue
			}
			f := distOf(l)[i]
			if !f.enough() {
				if few.n == 0 || f.n < few.n {
					few = f
				}
				continue
			}
			if !have || f.v > best.v {
				best, have = f, true
			} else if f.v == best.v {
				best.lower = best.lower || f.lower
			}
		}
		if have {
			w[i] = best
		} else {
			w[i] = few
		}
	}
	return w
}

// ClassFigures is one traffic class of a group.
type ClassFigures struct {
	Name, Target string
	Weight       int
	Heavy        bool
	Bounded      bool // meant to fail fast: not held against keeping up
	// Response counts from the intended send time (the headline); Service from
	// the actual send.
	Response, Service Percentiles
	ErrorRate         Stat
	// Goodput is the class's successful answers per second of the measured
	// window; Delivered their share of the class's requests due in the
	// window (measured or censored). A group keeps up only if every class
	// does: a model that fails every heavy request must not be recommended
	// for its fast cheap ones.
	Goodput, Delivered Stat
	// sloFigures holds every figure an SLO may name (plan.Figures), each
	// over the repetitions that have it.
	sloFigures map[string]Stat
}

// LoopFigures is the event loop's lateness (ms) of a loop model's group.
type LoopFigures struct {
	P50, P99, Max Stat
}

// PoolFigures is the offload model's worker pool in a group.
type PoolFigures struct {
	Workers int
	// QueueWaitMean and QueueWaitP99 are ms; HeavyResponseMean is the mean
	// response time of the heavy classes (which run on the pool), ms.
	QueueWaitMean, QueueWaitP99, QueueDepthPeak, HeavyResponseMean Stat
}

// Group is one model × scenario × offered rate: its repetitions and their
// figures. Figures are medians over the valid repetitions, or over all of them
// when none is valid (the group is then Invalid and drawn as such).
//
// A repetition is invalid for one of two causes (result.Validity.Cause): the
// load generator limited it, and its figures describe the generator; or the
// server failed (died, lost or restarted a child, answered nothing). The
// first is left out of every comparison. The second is a finding about the
// model: a group with a failed repetition did not keep up.
type Group struct {
	Model, Scenario string
	Rate            float64
	// Cells holds every repetition, by Rep; Used those the figures summarise.
	Cells, Used []*result.Cell
	// Invalid is set when no repetition measured the server.
	Invalid bool
	// InvalidReps counts invalid repetitions (excluded from the figures of a
	// group that has valid ones); ServerFailedReps those of them whose server
	// failed.
	InvalidReps, ServerFailedReps int
	// OverCapacity is set when a used repetition could not keep up.
	OverCapacity bool
	Reasons      []string

	Achieved, Goodput, ErrorRate       Stat
	PeakRSS, PeakThreads, PeakInFlight Stat
	// IdleRSS and IdleThreads are the server's figures before the cell's
	// first request; RSSGrowth and ThreadGrowth the peak above them (NaN
	// when the idle figures were not read).
	IdleRSS, IdleThreads, RSSGrowth, ThreadGrowth Stat
	// ActiveThreads: the threads that ran over the window
	// (result.Resources.ActiveThreads).
	ActiveThreads           Stat
	CPUPer1k                Stat
	Victim, Heavy           Percentiles
	VictimNames, HeavyNames []string
	Classes                 []ClassFigures
	Loop                    *LoopFigures
	Pool                    *PoolFigures
	GOMAXPROCS              int
	// NotSampled is set when no used repetition sampled the server's
	// processes (an attached target without its pid): RSS, threads and CPU
	// are unknown, not zero.
	NotSampled bool
	// GOMAXPROCSReason is why the server ran with GOMAXPROCS (its policy).
	GOMAXPROCSReason string
}

// Class returns the figures of the named class, or nil.
func (g *Group) Class(name string) *ClassFigures {
	for i := range g.Classes {
		if g.Classes[i].Name == name {
			return &g.Classes[i]
		}
	}
	return nil
}

// ServerFailed reports whether the server failed in a repetition of the group.
func (g *Group) ServerFailed() bool { return g.ServerFailedReps > 0 }

// Validity is the group's validity in a few words.
func (g *Group) Validity() string {
	switch {
	case g.Invalid && g.ServerFailed():
		return "invalid: server failed"
	case g.Invalid:
		return "invalid: generator-bound"
	case g.ServerFailed():
		return "invalid: server failed in " + plural(g.ServerFailedReps, "rep") + " of " + itoa(len(g.Cells))
	case g.InvalidReps > 0 && g.OverCapacity:
		return "over capacity; " + plural(g.InvalidReps, "rep") + " of " + itoa(len(g.Cells)) + " invalid, excluded"
	case g.InvalidReps > 0:
		return plural(g.InvalidReps, "rep") + " of " + itoa(len(g.Cells)) + " invalid, excluded"
	case g.OverCapacity:
		return "valid, over capacity"
	}
	return "valid"
}

// KeptUp reports whether the group delivered at least KeptFraction of its
// offered rate as successful answers, and of every class's requests, was not
// over capacity, and its server did not fail in any repetition.
func (g *Group) KeptUp() bool {
	if g.Invalid || g.ServerFailed() || g.OverCapacity || !g.Goodput.OK() || g.Goodput.Med < KeptFraction*g.Rate*g.unboundedShare() {
		return false
	}
	return g.LaggingClass() == ""
}

// LaggingClass names the first class that delivered less than KeptFraction
// of its requests as successful answers, or "". A bounded class, meant to
// fail fast, does not lag while its failures came within its timeout.
func (g *Group) LaggingClass() string {
	for _, cf := range g.Classes {
		if g.failsFast(cf) {
			continue
		}
		if cf.Delivered.OK() && cf.Delivered.Med < KeptFraction {
			return cf.Name
		}
	}
	return ""
}

// failsFast reports whether cf is a Bounded class whose failures were the
// fast ones it is meant to have: its target sets a timeout (timeout_ms), and
// its failed requests' p99 stayed within it plus LessonTimeoutSlackMs (or
// none failed). Failures of another kind — a refused connection, a
// generator timeout — still count against keeping up.
func (g *Group) failsFast(cf ClassFigures) bool {
	if !cf.Bounded {
		return false
	}
	q, ok := parseRequest(cf.Target)
	if !ok || q.Timeout == 0 {
		return false
	}
	p99 := failedP99(g, cf.Name)
	return math.IsNaN(p99) || p99 <= float64(q.Timeout.Milliseconds())+LessonTimeoutSlackMs
}

// unboundedShare is the share of the mix's weight in classes that are not
// Bounded: the part of the offered rate that should come back successful.
func (g *Group) unboundedShare() float64 {
	var all, unbounded int
	for _, cf := range g.Classes {
		all += cf.Weight
		if !g.failsFast(cf) {
			unbounded += cf.Weight
		}
	}
	if all == 0 {
		return 1
	}
	return float64(unbounded) / float64(all)
}

// KeptFraction is the share of the offered rate a group must deliver as
// successful answers for "throughput kept".
const KeptFraction = 0.95

func newGroup(model, scenario string, rate float64, cells []*result.Cell) *Group {
	slices.SortFunc(cells, func(a, b *result.Cell) int { return cmp.Compare(a.Rep, b.Rep) })
	g := &Group{Model: model, Scenario: scenario, Rate: rate, Cells: cells}
	for _, c := range cells {
		if c.Validity.Valid {
			g.Used = append(g.Used, c)
		} else {
			g.InvalidReps++
			if c.Validity.ServerFailed() {
				g.ServerFailedReps++
			}
		}
		for _, r := range c.Validity.Reasons {
			if !slices.Contains(g.Reasons, r) {
				g.Reasons = append(g.Reasons, r)
			}
		}
	}
	if len(g.Used) == 0 {
		g.Invalid = true
		g.Used = cells
	}
	used := g.Used
	for _, c := range used {
		g.OverCapacity = g.OverCapacity || c.Validity.OverCapacity
		if c.Server.GOMAXPROCS > 0 {
			g.GOMAXPROCS = c.Server.GOMAXPROCS
			g.GOMAXPROCSReason = c.Server.GOMAXPROCSReason
		}
	}
	g.Achieved = statBy(used, func(c *result.Cell) float64 { return c.AchievedRPS })
	g.ErrorRate = statBy(used, func(c *result.Cell) float64 { return ratio(c.Errors, c.Requests) })
	// Goodput: successful answers per second of the window. (AchievedRPS
	// counts answers with any status and leaves out failures without one, such
	// as timeouts, which Errors counts: scaling it by the error share would
	// count those twice.)
	g.Goodput = statBy(used, func(c *result.Cell) float64 {
		if c.MeasuredSecs() <= 0 {
			return math.NaN()
		}
		return float64(c.OK) / c.MeasuredSecs()
	})
	g.NotSampled = len(used) > 0 && !slices.ContainsFunc(used, func(c *result.Cell) bool { return c.Resources.Samples > 0 })
	g.PeakRSS = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.Resources.PeakRSSBytes)) })
	g.PeakThreads = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.Resources.PeakThreads)) })
	g.IdleRSS = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.Resources.IdleRSSBytes)) })
	g.IdleThreads = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.Resources.IdleThreads)) })
	g.RSSGrowth = statBy(used, func(c *result.Cell) float64 {
		if c.Resources.IdleRSSBytes <= 0 || c.Resources.PeakRSSBytes <= 0 {
			return math.NaN()
		}
		return float64(max(c.Resources.PeakRSSBytes-c.Resources.IdleRSSBytes, 0))
	})
	g.ThreadGrowth = statBy(used, func(c *result.Cell) float64 {
		if c.Resources.IdleThreads <= 0 || c.Resources.PeakThreads <= 0 {
			return math.NaN()
		}
		return float64(max(c.Resources.PeakThreads-c.Resources.IdleThreads, 0))
	})
	g.ActiveThreads = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.Resources.ActiveThreads)) })
	g.PeakInFlight = statBy(used, func(c *result.Cell) float64 { return positive(float64(c.PeakInFlight)) })
	g.CPUPer1k = statBy(used, func(c *result.Cell) float64 { return positive(c.Resources.CPUPer1kReqMs) })

	// Classes, in the order of the first repetition (then any extra ones).
	var victims, heavies []result.Latency
	perRepVictim := make([]dist, 0, len(used))
	perRepHeavy := make([]dist, 0, len(used))
	for _, c := range used {
		victims, heavies = victims[:0], heavies[:0]
		for _, cl := range c.Classes {
			if g.Class(cl.Name) == nil {
				g.Classes = append(g.Classes, ClassFigures{Name: cl.Name, Target: cl.Target, Weight: cl.Weight, Heavy: cl.Heavy, Bounded: cl.Bounded})
				if cl.Heavy {
					g.HeavyNames = append(g.HeavyNames, cl.Name)
				} else {
					g.VictimNames = append(g.VictimNames, cl.Name)
				}
			}
			if cl.Heavy {
				heavies = append(heavies, cl.Response)
			} else {
				victims = append(victims, cl.Response)
			}
		}
		perRepVictim = append(perRepVictim, worst(victims))
		perRepHeavy = append(perRepHeavy, worst(heavies))
	}
	// The headline figures pool the repetitions' histograms, per class;
	// a victim's figure is then the worst pooled victim class's.
	var pooledVictims, pooledHeavies []result.Latency
	pooledAll := true
	for _, cf := range g.Classes {
		var ls []result.Latency
		for _, c := range used {
			for _, cl := range c.Classes {
				if cl.Name == cf.Name {
					ls = append(ls, cl.Response)
				}
			}
		}
		pl, ok := result.Pool(ls)
		pooledAll = pooledAll && ok
		if cf.Heavy {
			pooledHeavies = append(pooledHeavies, pl)
		} else {
			pooledVictims = append(pooledVictims, pl)
		}
	}
	g.Victim = pooledPercentiles(perRepVictim, worst(pooledVictims), pooledAll)
	g.Heavy = pooledPercentiles(perRepHeavy, worst(pooledHeavies), pooledAll)
	for i := range g.Classes {
		cf := &g.Classes[i]
		var resp, svc []result.Latency
		var errs, goodput, delivered []float64
		var cls []result.Class
		for _, c := range used {
			for _, cl := range c.Classes {
				if cl.Name == cf.Name {
					resp = append(resp, cl.Response)
					svc = append(svc, cl.Service)
					errs = append(errs, ratio(cl.Errors, cl.Requests))
					cls = append(cls, cl)
					if secs := c.MeasuredSecs(); secs > 0 {
						goodput = append(goodput, float64(cl.OK)/secs)
					}
					// Every request of the class due in the window was
					// measured or censored.
					if due := cl.Requests + cl.Response.Censored; due > 0 {
						delivered = append(delivered, float64(cl.OK)/float64(due))
					}
				}
			}
		}
		cf.Response, cf.Service, cf.ErrorRate = pooledOf(resp), pooledOf(svc), statOf(errs)
		cf.Goodput, cf.Delivered = statOf(goodput), statOf(delivered)
		cf.sloFigures = make(map[string]Stat, len(plan.Figures))
		for _, name := range plan.Figures {
			var vs []float64
			lower, failed := false, false
			for _, cl := range cls {
				v, ok := cl.Figure(name)
				if ok {
					vs = append(vs, v)
					lower = lower || cl.LowerBound(name)
				} else if cl.Requests > 0 {
					failed = true // every request failed: no figure, and no pass
				}
			}
			st := statOf(vs)
			st.Lower = lower
			if failed {
				st = Stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
			}
			cf.sloFigures[name] = st
		}
	}

	// Event loop and pool, from the server's own /stats.
	var lp50, lp99, lmax []float64
	var qwMean, qwP99, qPeak, heavyMean []float64
	workers := 0
	for _, c := range used {
		if ld := loopDelay(&c.Server); ld != nil && ld.Count > 0 {
			lp50 = append(lp50, float64(ld.P50Us)/1000)
			lp99 = append(lp99, float64(ld.P99Us)/1000)
			lmax = append(lmax, float64(ld.MaxUs)/1000)
		}
		if p := c.Server.Pool; p != nil {
			workers = p.Workers
			qwMean = append(qwMean, p.QueueWait.MeanUs/1000)
			qwP99 = append(qwP99, float64(p.QueueWait.P99Us)/1000)
			qPeak = append(qPeak, float64(p.QueueDepthPeak))
			var sum float64
			var n int64
			for _, cl := range c.Classes {
				if cl.Heavy && cl.Response.Count > 0 {
					sum += cl.Response.Mean * float64(cl.Response.Count)
					n += cl.Response.Count
				}
			}
			if n > 0 {
				heavyMean = append(heavyMean, sum/float64(n))
			} else {
				heavyMean = append(heavyMean, math.NaN())
			}
		}
	}
	if len(lp50) > 0 {
		g.Loop = &LoopFigures{P50: statOf(lp50), P99: statOf(lp99), Max: statOf(lmax)}
	}
	if len(qwMean) > 0 {
		g.Pool = &PoolFigures{Workers: workers, QueueWaitMean: statOf(qwMean), QueueWaitP99: statOf(qwP99),
			QueueDepthPeak: statOf(qPeak), HeavyResponseMean: statOf(heavyMean)}
	}
	return g
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// positive maps zero (not recorded) to NaN so that it does not count as a figure.
func positive(v float64) float64 {
	if v <= 0 {
		return math.NaN()
	}
	return v
}

func itoa(n int) string { return units.Num(float64(n)) }
