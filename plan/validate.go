package plan

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/concbench/concbench/workloads"
)

// Defaults filled in by Normalize for fields a plan leaves out. A plan that sets
// a scenario's duration, warmup or max_connections overrides the plan's.
const (
	DefaultDuration       = 5 * time.Second
	DefaultWarmup         = time.Second
	DefaultReps           = 1
	DefaultMaxConnections = 64
	DefaultTimeout        = 10 * time.Second
)

// Ranges accepted by Normalize.
const (
	MinDuration       = 500 * time.Millisecond
	MaxDuration       = 30 * time.Minute
	MaxWarmup         = 5 * time.Minute
	MinTimeout        = 10 * time.Millisecond
	MaxTimeout        = 60 * time.Second
	MaxReps           = 100
	MaxRetries        = 5
	MaxMaxConnections = 10000
	MaxRate           = 1e6
	MaxWeight         = 1_000_000
	MaxClasses        = 16
	MaxCells          = 10000
)

// validName is a plan, scenario or class name: it ends up in file names.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// fieldError is a validation error naming the field, e.g.
// "scenarios[1].mix[0].weight: must be > 0".
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

// Normalize fills in the defaults (see FillDefaults) and validates every field
// (see Validate).
func (p *Plan) Normalize() error {
	p.FillDefaults()
	return p.Validate()
}

// FillDefaults sets the fields a plan leaves out (zero): the plan's duration,
// warmup, reps, max_connections and timeout; each scenario's duration, warmup
// and max_connections from the plan's; a class's name from its target's route
// ("/io?ms=50" → "io"). A zero warmup therefore means the default; only
// Overrides can ask for none.
func (p *Plan) FillDefaults() {
	setDefault(&p.Duration, DefaultDuration)
	setDefault(&p.Warmup, DefaultWarmup)
	setDefault(&p.Timeout, DefaultTimeout)
	for i := range p.Servers {
		p.Servers[i].fillDefaults()
	}
	if p.Target != nil && p.Target.Name == "" {
		p.Target.Name = DefaultTargetName
	}
	if p.Reps == 0 {
		p.Reps = DefaultReps
	}
	if p.MaxConnections == 0 {
		p.MaxConnections = DefaultMaxConnections
	}
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		if s.Duration == 0 {
			s.Duration = p.Duration
		}
		if s.Warmup == 0 {
			s.Warmup = p.Warmup
		}
		if s.MaxConnections == 0 {
			s.MaxConnections = p.MaxConnections
		}
		for j := range s.Mix {
			if c := &s.Mix[j]; c.Name == "" {
				if route, err := CheckTarget(c.Target); err == nil {
					c.Name = route
				}
			}
		}
	}
}

// Validate checks every field of a plan whose defaults are filled in. The error
// names the first bad field, e.g. "scenarios[1].mix[0].weight: must be > 0".
func (p *Plan) Validate() error {
	if !validName.MatchString(p.Name) {
		return fieldError("name", "%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", p.Name)
	}
	if err := p.checkServers(); err != nil {
		return err
	}
	if len(p.Models) == 0 {
		return fieldError("models", "at least one model is required (%s)", p.modelNames())
	}
	seen := map[string]bool{}
	for i, m := range p.Models {
		f := fmt.Sprintf("models[%d]", i)
		if !p.knownModel(m) {
			return fieldError(f, "unknown model %q (one of %s)", m, p.modelNames())
		}
		if seen[m] {
			return fieldError(f, "%q is listed twice", m)
		}
		seen[m] = true
	}
	if err := checkTimes("", p.Duration, p.Warmup); err != nil {
		return err
	}
	if t := p.Timeout.D(); t < MinTimeout || t > MaxTimeout {
		return fieldError("timeout", "%s out of range [%s, %s]", t, MinTimeout, MaxTimeout)
	}
	if p.Reps < 1 || p.Reps > MaxReps {
		return fieldError("reps", "%d out of range [1, %d]", p.Reps, MaxReps)
	}
	if p.Retries < 0 || p.Retries > MaxRetries {
		return fieldError("retries", "%d out of range [0, %d]", p.Retries, MaxRetries)
	}
	if err := checkConns("max_connections", p.MaxConnections); err != nil {
		return err
	}
	if err := p.Server.Check(); err != nil {
		return fmt.Errorf("server.%w", err)
	}
	if len(p.Scenarios) == 0 {
		return fieldError("scenarios", "at least one scenario is required")
	}
	names := map[string]bool{}
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		f := fmt.Sprintf("scenarios[%d]", i)
		if !validName.MatchString(s.Name) {
			return fieldError(f+".name", "%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name)
		}
		if names[s.Name] {
			return fieldError(f+".name", "%q is used by another scenario", s.Name)
		}
		names[s.Name] = true
		if err := checkTimes(f+".", s.Duration, s.Warmup); err != nil {
			return err
		}
		if err := checkConns(f+".max_connections", s.MaxConnections); err != nil {
			return err
		}
		if err := s.checkMix(f, p.ownRoutes()); err != nil {
			return err
		}
		for j, m := range s.Models {
			if !p.knownModel(m) {
				return fieldError(fmt.Sprintf("%s.models[%d]", f, j), "unknown model %q (one of %s)", m, p.modelNames())
			}
		}
		if len(s.Rates) == 0 {
			return fieldError(f+".rates", "at least one rate (requests per second) is required")
		}
		rates := map[float64]bool{}
		for j, r := range s.Rates {
			rf := fmt.Sprintf("%s.rates[%d]", f, j)
			if math.IsNaN(r) || r <= 0 {
				return fieldError(rf, "must be > 0, got %g", r)
			}
			if r > MaxRate {
				return fieldError(rf, "%g is above the limit of %g requests per second", r, float64(MaxRate))
			}
			if rates[r] {
				return fieldError(rf, "%g is listed twice", r)
			}
			rates[r] = true
		}
	}
	if n := p.NumCells(); n > MaxCells {
		return fieldError("scenarios", "%d cells (models × rates × reps) is above the limit of %d", n, MaxCells)
	}
	for i, s := range p.SLOs {
		if err := p.checkSLO(fmt.Sprintf("slos[%d]", i), s); err != nil {
			return err
		}
	}
	return nil
}

func setDefault(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func checkTimes(prefix string, d, w Duration) error {
	if d.D() < MinDuration || d.D() > MaxDuration {
		return fieldError(prefix+"duration", "%s out of range [%s, %s]", d, MinDuration, MaxDuration)
	}
	if w.D() < 0 || w.D() > MaxWarmup {
		return fieldError(prefix+"warmup", "%s out of range [0s, %s]", w, MaxWarmup)
	}
	return nil
}

func checkConns(field string, n int) error {
	if n < 1 || n > MaxMaxConnections {
		return fieldError(field, "%d out of range [1, %d]", n, MaxMaxConnections)
	}
	return nil
}

// checkMix validates a scenario's classes. With ownRoutes (every model is the
// user's own server), a target outside concbench's route table is the user's
// route: only its form is checked.
func (s *Scenario) checkMix(f string, ownRoutes bool) error {
	if len(s.Mix) == 0 {
		return fieldError(f+".mix", "at least one class is required")
	}
	if len(s.Mix) > MaxClasses {
		return fieldError(f+".mix", "%d classes is above the limit of %d", len(s.Mix), MaxClasses)
	}
	names := map[string]bool{}
	targets := map[string]string{} // target → class
	for j := range s.Mix {
		c := &s.Mix[j]
		cf := fmt.Sprintf("%s.mix[%d]", f, j)
		if _, err := CheckTarget(c.Target); err != nil && !(ownRoutes && isOwnRoute(c.Target)) {
			return fieldError(cf+".target", "%v", err)
		}
		// Answers are matched to classes by URL.
		if other, ok := targets[c.Target]; ok {
			return fieldError(cf+".target", "%q is also the target of class %q (each class needs its own)", c.Target, other)
		}
		targets[c.Target] = c.Name
		if !validName.MatchString(c.Name) {
			return fieldError(cf+".name", "%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Name)
		}
		if names[c.Name] {
			return fieldError(cf+".name", "%q is used by another class of this mix (name each class)", c.Name)
		}
		names[c.Name] = true
		if c.Weight <= 0 {
			return fieldError(cf+".weight", "must be > 0")
		}
		if c.Weight > MaxWeight {
			return fieldError(cf+".weight", "%d is above the limit of %d", c.Weight, MaxWeight)
		}
		if c.Calibrate != 0 {
			if err := checkCalibrate(c); err != nil {
				return fieldError(cf+".calibrate", "%v", err)
			}
		}
	}
	return nil
}

// Bounds of a class's calibration goal (Class.Calibrate).
const (
	MinCalibrate = time.Millisecond
	MaxCalibrate = 2 * time.Second
)

// checkCalibrate accepts a calibration goal on a class whose work can be
// scaled: /cpu (iters) or a backtracking /regex (n).
func checkCalibrate(c *Class) error {
	if d := c.Calibrate.D(); d < MinCalibrate || d > MaxCalibrate {
		return fmt.Errorf("%s out of range [%s, %s]", d, MinCalibrate, MaxCalibrate)
	}
	path, query, _ := strings.Cut(c.Target, "?")
	req, _ := workloads.Parse("GET", path, query) // checked before
	switch {
	case req.Route == workloads.RouteCPU:
	case req.Route == workloads.RouteRegex && req.Engine == workloads.EngineBacktrack && req.Reps > 1:
		return fmt.Errorf("a calibrated /regex sets its own reps: leave reps out of %q", c.Target)
	case req.Route == workloads.RouteRegex && req.Engine == workloads.EngineBacktrack:
	default:
		return fmt.Errorf("only a /cpu or a backtracking /regex class can be calibrated (it scales iters or n), not %q", c.Target)
	}
	return nil
}

// CheckTarget validates a class target ("/io?ms=50") against the route table,
// so a bad target is caught before any server starts. It returns the route name.
func CheckTarget(target string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("required, e.g. \"/plain\" or \"/cpu?iters=20000\"")
	}
	if !strings.HasPrefix(target, "/") {
		return "", fmt.Errorf("%q must start with '/' (a path and query, not a URL)", target)
	}
	path, query, _ := strings.Cut(target, "?")
	req, werr := workloads.Parse("GET", path, query)
	if werr != nil {
		return "", fmt.Errorf("%q: %s", target, werr.Msg)
	}
	return req.Route.String(), nil
}

func (p *Plan) checkSLO(f string, s SLO) error {
	if _, err := ParseExpr(s.Expr); err != nil {
		return fieldError(f+".expr", "%v", err)
	}
	if !matchAll(s.Model) {
		if !p.knownModel(s.Model) {
			return fieldError(f+".model", "unknown model %q (one of %s, or \"*\")", s.Model, p.modelNames())
		}
	}
	found := matchAll(s.Scenario)
	classFound := matchAll(s.Class)
	for _, sc := range p.Scenarios {
		if !matchAll(s.Scenario) && sc.Name != s.Scenario {
			continue
		}
		found = true
		for _, c := range sc.Mix {
			if c.Name == s.Class {
				classFound = true
			}
		}
	}
	if !found {
		return fieldError(f+".scenario", "no scenario %q in this plan", s.Scenario)
	}
	if !classFound {
		return fieldError(f+".class", "no class %q in the matching scenarios", s.Class)
	}
	return nil
}

func matchAll(sel string) bool { return sel == "" || sel == "*" }

// Matches reports whether the SLO applies to a cell of model and scenario, and
// to class.
func (s SLO) Matches(model, scenario, class string) bool {
	return (matchAll(s.Model) || s.Model == model) &&
		(matchAll(s.Scenario) || s.Scenario == scenario) &&
		(matchAll(s.Class) || s.Class == class)
}

// NumCells is the number of cells the plan runs: models × rates × reps.
func (p *Plan) NumCells() int {
	n := 0
	for _, s := range p.Scenarios {
		n += len(s.Rates) * p.numModels(s)
	}
	return n * max(p.Reps, 1)
}

// Estimate is how long the plan's attacks take (warmups and windows), without
// the per-cell start, stop and drain of the servers.
func (p *Plan) Estimate() time.Duration {
	var per time.Duration
	for _, s := range p.Scenarios {
		per += time.Duration(len(s.Rates)*p.numModels(s)) * (s.Duration.D() + s.Warmup.D())
	}
	return per * time.Duration(max(p.Reps, 1))
}

// numModels is how many of the plan's models run scenario s.
func (p *Plan) numModels(s Scenario) int {
	n := 0
	for _, m := range p.Models {
		if s.RunsModel(m) {
			n++
		}
	}
	return n
}

// Overrides are command-line settings that replace a plan's. Zero fields keep
// the plan's value.
type Overrides struct {
	Models    []string      // run only these models, in this order
	Scenarios []string      // run only these scenarios
	Rates     []float64     // replace the rates of every scenario
	Duration  time.Duration // every scenario's measured window
	Warmup    time.Duration // every scenario's warmup (use NoWarmup for none)
	Reps      int
	Retries   int // NoRetries for none (a zero Retries keeps the plan's)
	MaxConns  int // every scenario's connection pool
}

// NoRetries asks Overrides for no retries (a zero Retries keeps the plan's).
const NoRetries = -1

// NoWarmup asks Overrides for no warmup at all (a zero Warmup keeps the plan's).
const NoWarmup = time.Duration(-1)

// Apply replaces the plan's settings with o's and validates the result. An
// error in an override itself is an *OverrideError, naming the flag.
func (p *Plan) Apply(o Overrides) error {
	if err := o.check(); err != nil {
		return err
	}
	for _, m := range o.Models {
		if !p.knownModel(m) {
			return overrideErr("models", "unknown model %q (one of %s)", m, p.modelNames())
		}
	}
	if len(o.Models) > 0 {
		p.Models = append([]string(nil), o.Models...)
	}
	if len(o.Scenarios) > 0 {
		var keep []Scenario
		for _, name := range o.Scenarios {
			found := false
			for _, s := range p.Scenarios {
				if s.Name == name {
					keep = append(keep, s)
					found = true
				}
			}
			if !found {
				var have []string
				for _, s := range p.Scenarios {
					have = append(have, s.Name)
				}
				return overrideErr("scenario", "no scenario %q in plan %s (one of %s)", name, p.Name, strings.Join(have, ", "))
			}
		}
		p.Scenarios = keep
		// SLOs about dropped scenarios no longer apply.
		var slos []SLO
		for _, s := range p.SLOs {
			for _, sc := range keep {
				if matchAll(s.Scenario) || s.Scenario == sc.Name {
					slos = append(slos, s)
					break
				}
			}
		}
		p.SLOs = slos
	}
	if len(o.Models) > 0 {
		var slos []SLO
		for _, s := range p.SLOs {
			for _, m := range o.Models {
				if matchAll(s.Model) || s.Model == m {
					slos = append(slos, s)
					break
				}
			}
		}
		p.SLOs = slos
	}
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		if len(o.Rates) > 0 {
			s.Rates = append([]float64(nil), o.Rates...)
		}
		if o.Duration != 0 {
			s.Duration = Duration(o.Duration)
		}
		switch {
		case o.Warmup == NoWarmup:
			s.Warmup = 0
		case o.Warmup != 0:
			s.Warmup = Duration(o.Warmup)
		}
		if o.MaxConns != 0 {
			s.MaxConnections = o.MaxConns
		}
	}
	if o.Duration != 0 {
		p.Duration = Duration(o.Duration)
	}
	switch {
	case o.Warmup == NoWarmup:
		p.Warmup = 0
	case o.Warmup != 0:
		p.Warmup = Duration(o.Warmup)
	}
	if o.Reps != 0 {
		p.Reps = o.Reps
	}
	switch {
	case o.Retries == NoRetries:
		p.Retries = 0
	case o.Retries != 0:
		p.Retries = o.Retries
	}
	if o.MaxConns != 0 {
		p.MaxConnections = o.MaxConns
	}
	return p.Validate()
}

// OverrideError is an error in one of the Overrides, named by its command-line
// flag: "--rates: -5 out of range (0, 1e+06]". Apply returns one (errors.As)
// when the override itself is wrong, and a plain error when the plan it
// produced is invalid.
type OverrideError struct {
	Flag string // without the dashes: "rates"
	Err  error
}

func (e *OverrideError) Error() string { return "--" + e.Flag + ": " + e.Err.Error() }
func (e *OverrideError) Unwrap() error { return e.Err }

func overrideErr(flag, format string, args ...any) error {
	return &OverrideError{Flag: flag, Err: fmt.Errorf(format, args...)}
}

// check validates the overrides themselves, so errors name the flag.
func (o Overrides) check() error {
	seen := map[string]bool{}
	for _, m := range o.Models {
		if seen[m] {
			return overrideErr("models", "%q is listed twice", m)
		}
		seen[m] = true
	}
	rates := map[float64]bool{}
	for _, r := range o.Rates {
		if math.IsNaN(r) || r <= 0 || r > MaxRate {
			return overrideErr("rates", "%g out of range (0, %g]", r, float64(MaxRate))
		}
		if rates[r] {
			return overrideErr("rates", "%g is listed twice", r)
		}
		rates[r] = true
	}
	if o.Duration != 0 && (o.Duration < MinDuration || o.Duration > MaxDuration) {
		return overrideErr("duration", "%s out of range [%s, %s]", o.Duration, MinDuration, MaxDuration)
	}
	if o.Warmup != 0 && o.Warmup != NoWarmup && (o.Warmup < 0 || o.Warmup > MaxWarmup) {
		return overrideErr("warmup", "%s out of range [0s, %s]", o.Warmup, MaxWarmup)
	}
	if o.Reps != 0 && (o.Reps < 1 || o.Reps > MaxReps) {
		return overrideErr("reps", "%d out of range [1, %d]", o.Reps, MaxReps)
	}
	if o.Retries != 0 && o.Retries != NoRetries && (o.Retries < 0 || o.Retries > MaxRetries) {
		return overrideErr("retries", "%d out of range [0, %d]", o.Retries, MaxRetries)
	}
	if o.MaxConns != 0 && (o.MaxConns < 1 || o.MaxConns > MaxMaxConnections) {
		return overrideErr("max-connections", "%d out of range [1, %d]", o.MaxConns, MaxMaxConnections)
	}
	return nil
}
