package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concbench/concbench/catalog"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
	"github.com/concbench/concbench/workloads"
)

// Calibration (plan.Class.Calibrate): before the cells, each model's server is
// started once, idle, and the work of every class that asks for it is scaled
// until one request takes about the goal on that server. A /cpu class scales
// iters (linear in the work); a backtracking /regex class steps n (the time
// about doubles per character, so the closest n is chosen), then, when that
// is not within calTolerance, a smaller n repeated reps times.
const (
	// calWarm requests are sent and not timed before each measurement: V8
	// compiles a hot regex to native code after a few runs, and every server's
	// first requests pay for its caches.
	calWarm = 2
	// calSamples requests are timed per measurement of the search; their
	// median counts.
	calSamples = 3
	// calFinalSamples requests are timed, after calWarm, at the target the
	// search chose, and that median is what is recorded and checked against
	// the goal: V8's hash of 50,000 rounds took 63–173 ms in 25 requests in
	// a row on one node-loop (its garbage collector), so a median of 3 could
	// stop the search ×1.7 off (node-loop's chunk-tick calibrated to 85,481
	// rounds "in 105 ms" where other runs found 37,000–50,000, and its cells'
	// heavy p50 came out at 170–220 ms).
	calFinalSamples = 9
	// calProbeIters and calProbeN are where the search starts when the
	// plan's target asks for more: Apache's Lua hashes ~300× slower than Go,
	// so a target written for Go would take seconds per request there.
	calProbeIters = 1000
	calProbeN     = 14
	// calMaxSteps bounds the measurements per class.
	calMaxSteps = 12
	// calTolerance: a measurement within this factor of the goal ends the
	// search for iters.
	calTolerance = 1.15
)

// calKey names one class of one scenario for one model.
type calKey struct{ model, scenario, class string }

// calibrate runs the calibration of every model of p that has a class to
// calibrate, and returns what it found; r.calibrated maps each class to the
// target its cells send. A server that does not start or a request that fails
// leaves the plan's target, with a note. It returns an error only when ctx
// was cancelled.
//
// A reference server (catalog.Reference) whose Go model is in the plan is
// calibrated after it, to the time the model's request measured rather than
// to the plan's goal, so that the pair's heavy requests last about the same.
// A backtracking regex steps by ×2, so on its own each server lands up to
// ×1.4 either side of the goal: cluster's n = 19 measured 72 ms and
// node-cluster's n = 24 135 ms, and their heavy p50 in the cells were ×2
// apart.
func (r *cellRunner) calibrate(ctx context.Context, p plan.Plan) ([]result.Calibration, error) {
	var out []result.Calibration
	measured := map[calKey]float64{}
	for _, m := range calibrationOrder(p.Models) {
		want := calWants(p, m, measured)
		if len(want) == 0 {
			continue
		}
		cals, err := r.calibrateModel(ctx, m, want)
		if err != nil {
			return out, err
		}
		for _, c := range cals {
			r.prog.logf("calibrated %s %s/%s: %s → %s (goal %s)%s", c.Model, c.Scenario, c.Class, c.Used,
				units.Ms(c.MeasuredMs), c.GoalText(), noteSuffix(c.Note))
			r.calibrated[calKey{c.Model, c.Scenario, c.Class}] = c.Used
			if c.MeasuredMs > 0 && c.Note == "" {
				measured[calKey{c.Model, c.Scenario, c.Class}] = c.MeasuredMs
			}
		}
		out = append(out, cals...)
	}
	return out, nil
}

type calWant struct {
	scenario string
	class    plan.Class // its Calibrate is the goal
	goalFrom string     // the Go model whose measured time is the goal, or ""
}

// calWants lists the classes of p to calibrate on model m. A reference's goal
// is its Go model's measured time when measured holds it.
func calWants(p plan.Plan, m string, measured map[calKey]float64) []calWant {
	beside := ""
	if e, ok := catalog.Lookup(m); ok && e.Kind == catalog.Reference {
		beside = e.Beside
	}
	var want []calWant
	for _, sc := range p.Scenarios {
		if !sc.RunsModel(m) {
			continue
		}
		for _, c := range sc.Mix {
			if c.Calibrate <= 0 {
				continue
			}
			w := calWant{scenario: sc.Name, class: c}
			if got, ok := measured[calKey{beside, sc.Name, c.Name}]; beside != "" && ok {
				w.class.Calibrate = plan.Duration(time.Duration(got * float64(time.Millisecond)))
				w.goalFrom = beside
			}
			want = append(want, w)
		}
	}
	return want
}

// calibrationOrder puts the plan's references after the other models, so that
// a reference's Go model is calibrated first.
func calibrationOrder(models []string) []string {
	var first, refs []string
	for _, m := range models {
		if e, ok := catalog.Lookup(m); ok && e.Kind == catalog.Reference {
			refs = append(refs, m)
		} else {
			first = append(first, m)
		}
	}
	return append(first, refs...)
}

// calibrateModel starts model's server once and calibrates every class of
// want on it; classes with the same target and goal are measured once.
func (r *cellRunner) calibrateModel(ctx context.Context, model string, want []calWant) ([]result.Calibration, error) {
	fail := func(note string) []result.Calibration {
		var out []result.Calibration
		for _, w := range want {
			out = append(out, result.Calibration{Model: model, Scenario: w.scenario, Class: w.class.Name,
				Target: w.class.Target, Used: w.class.Target, GoalMs: ms(w.class.Calibrate.D()), GoalFrom: w.goalFrom, Note: note})
		}
		return out
	}
	ls, err := r.launchFor(model)
	var srv *server
	if err == nil {
		srv, err = startServer(ctx, ls, r.serverSet, r.opts.AllowRemote)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		}
		return fail("calibration: the server did not start: " + err.Error()), nil
	}
	defer func() {
		_ = srv.stop()
		drain(srv.port())
	}()
	done := map[string]result.Calibration{}
	var out []result.Calibration
	for _, w := range want {
		key := w.class.Target + "\n" + w.class.Calibrate.String()
		c, ok := done[key]
		if !ok {
			c = calibrateClass(ctx, "http://"+srv.addr, w.class)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
			}
			done[key] = c
		}
		c.Model, c.Scenario, c.Class, c.GoalFrom = model, w.scenario, w.class.Name, w.goalFrom
		out = append(out, c)
	}
	return out, nil
}

// calibrateClass scales class's work on the server at base until one request
// takes about class.Calibrate.
func calibrateClass(ctx context.Context, base string, class plan.Class) result.Calibration {
	goal := class.Calibrate.D()
	c := result.Calibration{Target: class.Target, Used: class.Target, GoalMs: ms(goal)}
	path, query, _ := strings.Cut(class.Target, "?")
	req, werr := workloads.Parse("GET", path, query)
	if werr != nil { // plan validation keeps this from happening
		c.Note = "calibration: " + werr.Msg
		return c
	}
	client := &http.Client{Timeout: 10*goal + 5*time.Second}
	defer client.CloseIdleConnections()
	measure := func(target string) (time.Duration, error) {
		return measureTarget(ctx, client, base+target, calSamples)
	}
	var best calPoint
	var err error
	var rescale func(calPoint) string // the linear parameter scaled to the goal; nil: none
	switch req.Route {
	case workloads.RouteCPU:
		c.Param = "iters"
		mk := itersTarget(class.Target, req)
		best, err = searchLinear(mk, min(req.Iters, calProbeIters), workloads.MaxIters, goal, measure)
		rescale = func(p calPoint) string { return mk(proportional(p, "iters", goal, workloads.MaxIters)) }
	case workloads.RouteRegex:
		c.Param = "n"
		hi := workloads.MaxUnboundedBacktrackN
		if req.Timeout > 0 {
			hi = workloads.MaxRegexN
		}
		best, err = searchDoubling(class.Target, "n", min(req.N, calProbeN), hi, goal, measure)
		if err == nil && req.Timeout == 0 && best.took > 0 && !within(best.took, goal, calTolerance) {
			best, err = searchReps(best, goal, measure)
		}
		if param(best.target, "reps") != "" {
			rescale = func(p calPoint) string {
				n, _ := strconv.Atoi(param(p.target, "n"))
				return withParam(p.target, "reps", proportional(p, "reps", goal, maxReps(n)))
			}
		}
	default:
		err = fmt.Errorf("calibration: %s cannot be scaled", class.Target)
	}
	samples := calSamples
	if err == nil && best.target != "" {
		best, err = confirm(best, goal, rescale, func(target string) (time.Duration, error) {
			return measureTarget(ctx, client, base+target, calFinalSamples)
		})
		if err == nil {
			samples = calFinalSamples
		}
	}
	if best.target != "" {
		c.Used, c.MeasuredMs, c.Samples = best.target, ms(best.took), samples
		if param(best.target, "reps") != "" {
			c.Param = "n, reps"
		}
	}
	switch {
	case err != nil:
		c.Note = err.Error()
	case best.took > 0 && !within(best.took, goal, 2):
		_, q, _ := strings.Cut(best.target, "?")
		c.Note = fmt.Sprintf("calibration: %s is as close as it got (the parameter's bounds, or the server's own limit)", q)
	}
	return c
}

// calPoint is one measured target.
type calPoint struct {
	target string
	took   time.Duration
}

// itersTarget makes the target of a /cpu class for iters rounds. A chunked
// hash keeps the number of chunks the plan wrote, so that its chunk size
// scales with iters: each chunk then takes the same time on every server
// (1000 rounds were 0.09 ms in Go and 2.3 ms in V8, and a cheap request
// waits for a chunk to end on the loop).
func itersTarget(target string, req workloads.Request) func(int) string {
	if req.Chunk == 0 || req.Iters == 0 {
		return func(v int) string { return withParam(target, "iters", v) }
	}
	chunks := float64(req.Iters) / float64(req.Chunk)
	return func(v int) string {
		return withParam(withParam(target, "iters", v), "chunk", max(1, int(math.Round(float64(v)/chunks))))
	}
}

// searchLinear scales a parameter the work is linear in (mk makes the target
// for a value): from start, ×10 until a request takes a tenth of the goal,
// then in proportion, until within calTolerance of the goal.
func searchLinear(mk func(int) string, start, hi int, goal time.Duration, measure func(string) (time.Duration, error)) (calPoint, error) {
	v := max(start, 1)
	var best calPoint
	for range calMaxSteps {
		t := mk(v)
		took, err := measure(t)
		if err != nil {
			return best, err
		}
		best = closer(best, calPoint{t, took}, goal)
		if within(took, goal, calTolerance) {
			break
		}
		next := v * 10
		if took >= goal/10 {
			next = scaleTo(v, took, goal)
		}
		next = min(max(next, 1), hi)
		if next == v {
			break
		}
		v = next
	}
	return best, nil
}

// searchDoubling steps a parameter whose cost about doubles per unit: up from
// start while a request takes less than the goal, down while more, keeping
// the value closest to the goal (by ratio).
func searchDoubling(target, p string, start, hi int, goal time.Duration, measure func(string) (time.Duration, error)) (calPoint, error) {
	v := min(max(start, 1), hi)
	var best calPoint
	seen := map[int]bool{}
	for range calMaxSteps {
		t := withParam(target, p, v)
		took, err := measure(t)
		if err != nil {
			return best, err
		}
		seen[v] = true
		best = closer(best, calPoint{t, took}, goal)
		next := v
		switch {
		case took < goal && v < hi:
			next = v + 1
		case took > goal && v > 1:
			next = v - 1
		}
		if next == v || seen[next] {
			break
		}
		v = next
	}
	return best, nil
}

// searchReps refines a backtracking regex the doubling search left more than
// calTolerance from the goal: n by ×2 per character cannot get closer, so it
// steps n down until one match takes about an eighth of the goal and scales
// reps, the matches run in a row (linear, like iters), keeping whichever
// target came closest. Without it a pair's heavy requests differed by up to
// ×1.5 (node-cluster n=24: 109 ms against cluster's 74.9 ms), and a blocked
// pair's cheap p99 by ×2.9.
func searchReps(best calPoint, goal time.Duration, measure func(string) (time.Duration, error)) (calPoint, error) {
	n, err := strconv.Atoi(param(best.target, "n"))
	if err != nil {
		return best, nil
	}
	// Assume ×2 per character to land one match near goal/8: reps 8–16,
	// where one more or less moves the time by at most 12 %.
	down := max(1, int(math.Ceil(math.Log2(8*float64(best.took)/float64(goal)))))
	n = max(n-down, 0)
	one := best.took >> down
	base := withParam(best.target, "n", n)
	hi := maxReps(n)
	start := min(max(int(math.Round(float64(goal)/float64(max(one, time.Microsecond)))), 1), hi)
	fine, err := searchLinear(func(v int) string { return withParam(base, "reps", v) }, start, hi, goal, measure)
	return closer(best, fine, goal), err
}

// maxReps is the most reps the route table takes for a backtracking match
// of n characters.
func maxReps(n int) int {
	return min(workloads.MaxRegexReps, 1<<(workloads.MaxUnboundedBacktrackN-min(n, workloads.MaxUnboundedBacktrackN)))
}

// proportional returns p's linear parameter scaled by goal ÷ p.took, within
// [1, hi].
func proportional(p calPoint, name string, goal time.Duration, hi int) int {
	v, _ := strconv.Atoi(param(p.target, name))
	return min(max(scaleTo(v, p.took, goal), 1), hi)
}

// scaleTo returns v, a linear parameter that took took, scaled to take goal.
func scaleTo(v int, took, goal time.Duration) int {
	return int(math.Round(float64(v) * float64(goal) / float64(max(took, time.Microsecond))))
}

// confirm measures the target a search chose again, with calFinalSamples,
// and returns that measurement. When it is more than calTolerance from the
// goal and rescale is not nil (a linear parameter: iters, reps), it scales
// the parameter once in proportion, measures that too, and returns whichever
// came closer.
func confirm(best calPoint, goal time.Duration, rescale func(calPoint) string, measureFinal func(string) (time.Duration, error)) (calPoint, error) {
	took, err := measureFinal(best.target)
	if err != nil {
		return best, err
	}
	cur := calPoint{best.target, took}
	if within(took, goal, calTolerance) || rescale == nil {
		return cur, nil
	}
	t := rescale(cur)
	if t == cur.target {
		return cur, nil
	}
	took, err = measureFinal(t)
	if err != nil {
		return cur, err
	}
	return closer(cur, calPoint{t, took}, goal), nil
}

// closer returns whichever of a and b took closer to goal, by ratio.
func closer(a, b calPoint, goal time.Duration) calPoint {
	if a.target == "" {
		return b
	}
	dist := func(d time.Duration) float64 { return math.Abs(math.Log(float64(max(d, 1)) / float64(goal))) }
	if dist(b.took) < dist(a.took) {
		return b
	}
	return a
}

func within(d, goal time.Duration, f float64) bool {
	r := float64(d) / float64(goal)
	return r <= f && r >= 1/f
}

// measureTarget sends calWarm requests, then times samples more, one at a
// time, and returns the median. A request that does not answer 200 fails it.
func measureTarget(ctx context.Context, client *http.Client, u string, samples int) (time.Duration, error) {
	var took []time.Duration
	for i := range calWarm + samples {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("calibration: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("calibration: %s answered %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
		}
		if i >= calWarm {
			took = append(took, d)
		}
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}

// withParam returns target with its parameter p set to v, the others kept in
// their order.
func withParam(target, p string, v int) string {
	path, query, _ := strings.Cut(target, "?")
	parts := strings.Split(query, "&")
	set := false
	for i, kv := range parts {
		if k, _, _ := strings.Cut(kv, "="); k == p {
			parts[i] = p + "=" + strconv.Itoa(v)
			set = true
		}
	}
	if !set {
		parts = append(parts, p+"="+strconv.Itoa(v))
	}
	return path + "?" + strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "&")
}

// param returns the value of p in target.
func param(target, p string) string {
	_, query, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(query)
	return q.Get(p)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mixFor returns the mix model's cells of sc send: calibrated classes with
// the target calibration found for model.
func (r *cellRunner) mixFor(model string, sc plan.Scenario) []plan.Class {
	mix := slices.Clone(sc.Mix)
	for i, c := range mix {
		if t, ok := r.calibrated[calKey{model, sc.Name, c.Name}]; ok {
			mix[i].Target = t
		}
	}
	return mix
}
