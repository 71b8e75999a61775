package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/concbench/concbench/ceiling"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/reports"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/runner"
	"github.com/concbench/concbench/units"
)

const runArgs = "[--plan FILE|NAME] [--models a,b] [--scenario NAME] [--rates 100,200] [--duration 5s] [--warmup 1s] [--reps N] [--retries N] [--out DIR] [--save-raw] [--profile cpu,heap,goroutine,mutex,block,trace] [--profile-generator cpu,heap,goroutine,trace] [--server-cpus 1 --loadgen-cpus 0] [--ceiling RPS] [--target http://HOST:PORT [--target-pid PID] [--target-name NAME]] [--allow-remote] [--generators N]"

// cmdRun runs a benchmark plan. Exit codes, most important first:
// ExitInterrupted (130) when stopped, ExitSLO (4) when an SLO broke on a valid
// cell, ExitInvalid (3) when a cell is invalid, ExitUsage (2) for a bad plan
// or flag, ExitError (1) when the run could not be done at all.
func cmdRun(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "run", runArgs)
	planRef := fs.String("plan", "", "plan `file` (YAML or JSON) or built-in plan name: "+strings.Join(plan.BuiltinNames(), ", ")+" (default "+plan.DefaultBuiltin+")")
	modelList := fs.String("models", "", "comma-separated `models` to run, in this order (default: the plan's)")
	scenarios := fs.String("scenario", "", "comma-separated plan `scenarios` to run (default: all)")
	rateList := fs.String("rates", "", "comma-separated offered `rates` in req/s, replacing every scenario's")
	duration := fs.Duration("duration", 0, "measured window of every cell (default: the plan's)")
	warmup := fs.Duration("warmup", 0, "warmup of every cell, not counted; 0 for none (default: the plan's)")
	reps := fs.Int("reps", 0, "repetitions of every cell, interleaved (default: the plan's)")
	retries := fs.Int("retries", 0, "rerun a cell found generator-bound for a transient reason (stalls, late sends) up to `N` times, keeping the discarded attempts in results.json; 0 for none (default: the plan's)")
	maxConns := fs.Int("max-connections", 0, "the generator's connection pool of every cell (default: the plan's)")
	out := fs.String("out", runner.DefaultOutDir, "parent `directory` of the run's results directory <UTC timestamp>-<plan>/")
	saveRaw := fs.Bool("save-raw", false, "also save every cell's raw results in vegeta's format (vegeta report/plot read them)")
	profileList := fs.String("profile", "", "capture these `profiles` of every cell's server during its window, beside the results: cpu, heap, goroutine, mutex, block, trace, or all")
	genProfileList := fs.String("profile-generator", "", "capture these `profiles` of the load generator itself during every cell's window, beside the results: cpu, heap, goroutine, trace, or all")
	serverCPUs := fs.String("server-cpus", "", "`CPUs` the servers run on, or none (default: the second available CPU, on 2 or more)")
	loadgenCPUs := fs.String("loadgen-cpus", "", "`CPUs` the load generator runs on, or none (default: the first available CPU, on 2 or more)")
	ceilingRPS := fs.Float64("ceiling", 0, "the generator's ceiling in `req/s`: cells offered above 70% of it are invalid (default: from OUT/"+ceiling.File+", written by concbench ceiling)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback target (the servers run listens on 127.0.0.1 anyway)")
	target := fs.String("target", "", "load this running server (http://HOST:PORT) instead of starting the plan's models: no server life cycle")
	targetPID := fs.Int("target-pid", 0, "with --target: the server's `pid`, whose process tree is sampled (CPU, RSS, threads); without it those figures are not sampled")
	targetName := fs.String("target-name", plan.DefaultTargetName, "with --target: the `name` its cells, tables and charts show")
	generators := fs.Int("generators", 1, "split every cell's load over `N` generator processes (concbench attack --shard i/N), each pinned to one CPU of --loadgen-cpus in turn, and merge them exactly")
	printPlan := fs.Bool("print-plan", false, "print the plan, with the flags applied and defaults filled in, as YAML and exit")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	p, err := plan.Resolve(*planRef)
	if err != nil {
		return usageError("run: %v", err)
	}
	o := plan.Overrides{Duration: *duration, Reps: *reps, MaxConns: *maxConns}
	if set["duration"] && *duration == 0 {
		return usageError("run: --duration: must be > 0")
	}
	if set["warmup"] {
		o.Warmup = *warmup
		if *warmup == 0 {
			o.Warmup = plan.NoWarmup
		} else if *warmup < 0 {
			return usageError("run: --warmup: %s must be ≥ 0", *warmup)
		}
	}
	if set["retries"] {
		o.Retries = *retries
		if *retries == 0 {
			o.Retries = plan.NoRetries
		} else if *retries < 0 {
			return usageError("run: --retries: %d must be ≥ 0", *retries)
		}
	}
	if set["reps"] && *reps == 0 {
		return usageError("run: --reps: must be ≥ 1")
	}
	if set["max-connections"] && *maxConns == 0 {
		return usageError("run: --max-connections: must be ≥ 1")
	}
	o.Models = splitList(*modelList)
	o.Scenarios = splitList(*scenarios)
	for _, s := range splitList(*rateList) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
			return usageError("run: --rates: %q is not a number", s)
		}
		o.Rates = append(o.Rates, r)
	}
	if *target != "" {
		if set["models"] {
			return usageError("run: --target and --models: a run loads either a running server or the plan's models")
		}
		name := *targetName
		if p.Target != nil && !set["target-name"] { // the plan's own target: --target replaces its URL
			name = p.Target.Name
		}
		p.Target = &plan.Target{Name: name, URL: strings.TrimSuffix(*target, "/"), PID: *targetPID}
		p.Models = []string{name}
		if err := checkTargetFlag(p.Target, *allowRemote); err != nil {
			return usageError("run: --target: %v", err)
		}
	} else if set["target-pid"] || set["target-name"] {
		return usageError("run: --target-pid and --target-name go with --target")
	}
	if err := p.Apply(o); err != nil {
		if _, ok := errors.AsType[*plan.OverrideError](err); ok { // names the flag
			return usageError("run: %v", err)
		}
		return usageError("run: plan %s: %v", p.Name, err)
	}
	if *printPlan {
		enc := yaml.NewEncoder(env.Stdout)
		enc.SetIndent(2)
		if err := enc.Encode(p); err != nil {
			return err
		}
		return enc.Close()
	}
	for _, c := range []struct{ flag, v string }{{"server-cpus", *serverCPUs}, {"loadgen-cpus", *loadgenCPUs}} {
		if _, err := runner.ParseCPUs(c.v); err != nil {
			return usageError("run: --%s: %v", c.flag, err)
		}
	}
	if *ceilingRPS < 0 || math.IsNaN(*ceilingRPS) {
		return usageError("run: --ceiling: %g must be > 0", *ceilingRPS)
	}
	if *generators < 1 {
		return usageError("run: --generators %d: want ≥ 1", *generators)
	}
	if *generators > 1 && *saveRaw {
		return usageError("run: --save-raw and --generators: raw results are kept by one generator only")
	}
	profiles, err := profiling.ParseKinds(*profileList)
	if err != nil {
		return usageError("run: --profile: %v", err)
	}
	genProfiles, err := profiling.ParseGeneratorKinds(*genProfileList)
	if err != nil {
		return usageError("run: --profile-generator: %v", err)
	}
	if *generators > 1 && len(genProfiles) > 0 {
		return usageError("run: --profile-generator and --generators: the generators are other processes; profile one with --generators 1")
	}

	opts := runner.Options{
		Plan:              p,
		OutDir:            *out,
		SaveRaw:           *saveRaw,
		Profiles:          profiles,
		GeneratorProfiles: genProfiles,
		ServerCPUs:        *serverCPUs,
		LoadgenCPUs:       *loadgenCPUs,
		CeilingRPS:        *ceilingRPS,
		AllowRemote:       *allowRemote,
		Generators:        *generators,
		Version:           Version,
		Log:               env.Stderr,
		Terminal:          env.Terminal,
	}
	if *ceilingRPS > 0 {
		opts.CeilingSource = "--ceiling"
	} else if c, err := ceiling.Load(*out); err == nil {
		opts.CeilingRPS = c.RPS
		opts.CeilingSource = fmt.Sprintf("%s/%s, measured %s", *out, ceiling.File, c.Measured.Local().Format("2006-01-02 15:04"))
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stderr, "concbench: ignoring the saved ceiling: %v\n", err)
	}

	res, err := runner.Run(ctx, opts)
	if pe, ok := errors.AsType[*runner.PlanError](err); ok {
		return usageError("run: %v", pe)
	}
	if res == nil {
		return err
	}
	fidelity := writeReport(env, res.Dir, res.Run)
	err = runExit(env.Stdout, res, err)
	if fidelity != "" { // the last line, where a script looks for it
		fmt.Fprintln(env.Stdout, fidelity)
	}
	return err
}

// runExit prints the verdicts of a run and picks its exit code.
func runExit(w io.Writer, res *runner.Outcome, err error) error {
	r := res.Run
	for _, s := range r.SLOs {
		if !s.Passed && !s.Skipped {
			fmt.Fprintf(w, "SLO broken: %s on %s class %s: %s\n", s.Expr, s.Cell, s.Class, fmtValue(s.Value, s.Unit))
		}
	}
	if res.SLOSkipped > 0 {
		fmt.Fprintf(w, "%d SLO checks skipped (invalid cells, or classes without requests)\n", res.SLOSkipped)
	}
	retried, discarded := 0, 0
	for _, c := range r.Cells {
		if len(c.Discarded) > 0 {
			retried++
			discarded += len(c.Discarded)
		}
	}
	if retried > 0 {
		fmt.Fprintf(w, "%d cells retried: %d attempts discarded as generator-bound for transient reasons (stalls, late sends; kept in %s as discarded_attempts)\n", retried, discarded, result.FileName)
	}
	if res.Invalid > 0 {
		fmt.Fprintf(w, "%d of %d cells invalid: their figures describe the load generator or a failed server, not the model (reasons in %s)\n", res.Invalid, len(r.Cells), result.FileName)
	}
	fmt.Fprintf(w, "results: %s\n", res.Dir)
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return withCode(ExitInterrupted, fmt.Errorf("run: interrupted; %d finished cells kept in %s", len(r.Cells), res.Dir))
	case err != nil:
		return fmt.Errorf("run: %w (finished cells kept in %s)", err, res.Dir)
	case res.SLOBroken > 0:
		return withCode(ExitSLO, fmt.Errorf("run: %d SLO checks broken", res.SLOBroken))
	case res.Invalid > 0:
		return withCode(ExitInvalid, fmt.Errorf("run: %d of %d cells invalid", res.Invalid, len(r.Cells)))
	}
	return nil
}

// fmtValue formats an SLO figure in its unit: percent or milliseconds.
func fmtValue(v float64, unit string) string {
	if unit == "%" {
		return units.Pct(v / 100)
	}
	return units.Ms(v)
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// writeReport renders a run's report (charts, report.html, summary.md) and
// prints its verdict table. The measurements are already saved: a report that
// fails is a warning, and `concbench report DIR` can render it again. It
// returns the report's "fidelity: N of M comparisons match" line, or "".
func writeReport(env *Env, dir string, r *result.Run) string {
	if len(r.Cells) == 0 {
		fmt.Fprintln(env.Stdout, "no cell finished: no report")
		return ""
	}
	rep, err := reports.Build(r)
	if err == nil {
		err = rep.WriteTable(env.Stdout)
	}
	if err == nil {
		_, err = rep.Write(dir)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "concbench: report: %v (results.json is complete; retry with 'concbench report %s')\n", err, dir)
		return ""
	}
	fmt.Fprintf(env.Stdout, "report: %s\n", filepath.Join(dir, reports.HTMLFile))
	if rep.Fidelity != nil {
		return rep.Fidelity.Line()
	}
	return ""
}

// checkTargetFlag refuses a target off this machine unless allowed, and one
// that does not accept connections: both before anything is measured.
func checkTargetFlag(t *plan.Target, allowRemote bool) error {
	u, err := url.Parse(t.URL)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("%q: want http://HOST:PORT", t.URL)
	}
	if !allowRemote {
		if err := launch.CheckLoopback(u.Host); err != nil {
			return fmt.Errorf("%s: %v (pass --allow-remote to load another machine)", t.URL, err)
		}
	}
	conn, err := net.DialTimeout("tcp", u.Host, 3*time.Second)
	if err != nil {
		return fmt.Errorf("%s does not accept connections: %v", t.URL, err)
	}
	conn.Close()
	if t.PID != 0 && !procstat.Alive(t.PID) {
		return fmt.Errorf("--target-pid %d: no such running process", t.PID)
	}
	return nil
}
