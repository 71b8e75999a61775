// Package runner runs a benchmark plan: for every cell (model × scenario × rate
// × repetition) it starts the model as a `concbench serve` child process pinned
// to the server CPUs, drives it with the load generator pinned to the others,
// samples the server's process figures and /stats, stops it, and writes
// results.json after every cell, so an interrupted run keeps what it finished.
//
// The validity rules of a cell (see README, "Validity and exit codes"): the
// load generator's own verdict (loadgen; Cause generator), plus a cell is
// invalid when
//   - it was offered more than GeneratorBoundFraction of the generator's
//     measured ceiling (`concbench ceiling`), when one is known (Cause
//     generator);
//   - its server did not start, died during the cell, or (cluster) had to
//     restart a child or lost one during the cell (Cause server);
//   - no request of the measured window was answered successfully: every one
//     was refused, reset, timed out or got an error status (Cause server,
//     unless the generator ran out of ports or file descriptors).
//
// When the server failed, Cause is server whatever else happened: a crashed
// server is the finding (see result.Validity).
//
// Invalid cells are kept in results.json with their reasons, and skipped by
// the SLO checks (as are classes without a request in the window).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/servers/reference"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/units"
)

// GeneratorBoundFraction is the share of the generator's measured ceiling
// above which a cell is flagged generator-bound (invalid).
const GeneratorBoundFraction = loadgen.GeneratorBoundFraction

// DefaultOutDir is the parent of the results directories.
const DefaultOutDir = "results"

// cellOverhead is about what a cell adds to its warmup and window on 2 cores:
// starting the server, waiting for the last answers, stopping it, the drain.
const cellOverhead = 500 * time.Millisecond

// LatestLink is the symbolic link, beside the results directories, to the
// newest one (results/latest).
const LatestLink = "latest"

// ErrInterrupted is returned (wrapped) by Run when its context was cancelled:
// the finished cells are saved, the current one is dropped.
var ErrInterrupted = errors.New("run interrupted")

// Options configure a run. Every field but Plan has a usable zero value.
type Options struct {
	// Plan is what to run, normalised (plan.Parse, plan.Builtin) and with any
	// command-line overrides applied.
	Plan plan.Plan
	// Binary is the concbench executable (default: this one). The servers
	// are started with launch.ServerBinary of it — concbench-serve beside it
	// when there is one, else Binary itself — as `BIN serve ...`, and
	// --generators' shards with Binary, as `Binary attack ...`.
	Binary string
	// OutDir is the parent of the run's results directory
	// OutDir/<UTC timestamp>-<plan>/ (default DefaultOutDir).
	OutDir string
	// SaveRaw also writes each cell's raw results in vegeta's binary format.
	SaveRaw bool
	// Profiles are captured from every cell's server during its measured
	// window and saved beside the results (see package profiling); none when empty.
	Profiles []profiling.Kind
	// GeneratorProfiles are captured from this process, the load generator,
	// during every cell's measured window (profiling.StartGenerator); none
	// when empty.
	GeneratorProfiles []profiling.Kind
	// ServerCPUs and LoadgenCPUs pin the servers and this process (the load
	// generator): a CPU list ("1", "0-3"), "none", or "" for the default: on a
	// machine with 2 or more CPUs the generator gets the first available CPU and
	// the server the second; on 1 CPU nothing is pinned.
	ServerCPUs, LoadgenCPUs string
	// CeilingRPS is the generator's measured ceiling against /plain (0:
	// unknown); CeilingSource says where it came from, for the log.
	CeilingRPS    float64
	CeilingSource string
	// AllowRemote allows a non-loopback target. Servers started by Run always
	// listen on 127.0.0.1; this only relaxes the check of the address they report.
	AllowRemote bool
	// Generators, when above 1, splits every cell's load over that many
	// generator processes (`concbench attack --shard i/N`), each pinned to
	// one CPU of LoadgenCPUs, and merges their results (package shard).
	Generators int
	// Version and Commit are recorded in the environment (Commit: read with git
	// when empty).
	Version, Commit string
	// Log receives progress and log lines (nil: discarded). Terminal asks for a
	// live progress line rewritten with '\r' instead of one line per event.
	Log      io.Writer
	Terminal bool

	// Test hooks.
	attack   func(context.Context, loadgen.Config) (*loadgen.Result, error)
	cellDone func(i int, c result.Cell)
	// verdict, when set, sees (and may change) the generator's verdict of
	// every attempt at a cell before the orchestrator's rules: tests force
	// a transient generator-bound attempt with it.
	verdict   func(id string, v *result.Validity)
	pprofAddr func(reported string) string // the address profiles are fetched from
}

// Outcome is what a run produced.
type Outcome struct {
	// Dir is the run's results directory.
	Dir string
	Run *result.Run
	// Invalid counts invalid cells; SLOBroken and SLOSkipped count SLO checks
	// that failed and that were skipped (on invalid cells).
	Invalid               int
	SLOBroken, SLOSkipped int
}

// cellRunner holds what every cell of a run shares.
type cellRunner struct {
	opts       Options
	bin        string // the servers' executable (Host.Bin)
	self       string // concbench, for generator shards (Host.Self)
	dir        string
	serverCPUs string     // `serve --cpus`: the CPUs the server pins itself to
	serverSet  cpuset.Set // CPUs the server starts on
	prog       *progress
	attack     func(context.Context, loadgen.Config) (*loadgen.Result, error)
	ceilingRPS float64
	genCPUs    cpuset.Set // the generator's CPUs, one per shard process
	// calibrated maps a class of a model's scenario to the target its cells
	// send, when the plan asked to calibrate it (see calibrate).
	calibrated map[calKey]string
}

// Run runs the plan and returns its outcome. results.json is rewritten after
// every cell. When ctx is cancelled, Run stops the current cell and its server,
// saves the finished cells (Run.Interrupted set) and returns the outcome with
// an error wrapping ErrInterrupted. Other errors mean no results directory
// could be written, or the pinning failed.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	p := opts.Plan
	if err := p.Validate(); err != nil {
		return nil, &PlanError{fmt.Errorf("plan %s: %w", p.Name, err)}
	}
	skip, err := unavailable(&p)
	if err != nil {
		return nil, &PlanError{fmt.Errorf("plan %s: %w", p.Name, err)}
	}
	if len(skip) == len(p.Models) {
		return nil, &PlanError{fmt.Errorf("plan %s: nothing can run here: %s", p.Name, skipLine(p.Models, skip))}
	}
	host, err := NewHost(opts)
	if err != nil {
		return nil, err
	}
	defer host.Close()
	if _, err := os.Stat(host.Bin); err != nil {
		return nil, fmt.Errorf("server binary: %w", err)
	}
	r := &cellRunner{opts: opts, bin: host.Bin, self: host.Self, serverCPUs: host.pin.serverCPUs, serverSet: host.pin.serverSet,
		prog: host.prog, attack: opts.attack, ceilingRPS: opts.CeilingRPS, genCPUs: host.LoadgenCPUs(), calibrated: map[calKey]string{}}
	if r.attack == nil {
		r.attack = loadgen.Attack
	}
	env := host.Env
	env.CeilingRPS = opts.CeilingRPS
	if opts.Generators > 1 {
		note := fmt.Sprintf("load from %d generator processes (concbench attack --shard), each pinned to one CPU of %s in turn", opts.Generators, orNone(env.Pinning.LoadgenCPUs))
		if n := len(r.genCPUs); n > 0 && n < opts.Generators {
			note += fmt.Sprintf(": %d shards share %d CPU(s)", opts.Generators, n)
		}
		env.Pinning.Note = strings.TrimPrefix(env.Pinning.Note+"; "+note, "; ")
		if len(r.genCPUs) > 0 { // one CPU each: Go starts with GOMAXPROCS 1
			env.LoadgenGOMAXPROCS = 1
		}
	}

	outDir := opts.OutDir
	if outDir == "" {
		outDir = DefaultOutDir
	}
	started := time.Now()
	if r.dir, err = makeRunDir(outDir, started, p.Name); err != nil {
		return nil, err
	}
	run := &result.Run{Plan: p, Env: env, Started: started.UTC(), Cells: []result.Cell{}}
	for _, m := range p.Models {
		if reason, ok := skip[m]; ok {
			run.Skipped = append(run.Skipped, result.Skipped{Model: m, Reason: reason})
		} else if v := reference.Version(m); v != "" {
			if run.Env.References == nil {
				run.Env.References = map[string]string{}
			}
			run.Env.References[m] = v
		}
	}
	p.Models = without(p.Models, skip) // the cells; run.Plan keeps the plan as asked
	if err := result.Save(r.dir, run); err != nil {
		return nil, fmt.Errorf("save results: %w", err)
	}
	out := &Outcome{Dir: r.dir, Run: run}

	specs := cells(p)
	est := p.Estimate() + time.Duration(len(specs))*cellOverhead
	r.prog.logf("concbench run: plan %s, %d cells, about %s; results in %s", p.Name, len(specs), est.Round(time.Second), r.dir)
	host.LogPinning()
	if len(skip) > 0 {
		r.prog.logf("skipped (not installed here): %s", skipLine(opts.Plan.Models, skip))
	}
	for _, w := range p.PoolWarnings(p.MaxConnections) {
		r.prog.logf("warning: %s", w)
	}
	if opts.CeilingRPS > 0 {
		r.prog.logf("generator ceiling %s req/s (%s): cells offered above %s req/s are flagged generator-bound",
			units.Num(opts.CeilingRPS), opts.CeilingSource, units.Num(GeneratorBoundFraction*opts.CeilingRPS))
	}

	var runErr error
	cals, err := r.calibrate(ctx, p)
	run.Calibrations = cals
	if err != nil {
		runErr = err
		specs = nil
	} else if len(cals) > 0 {
		if err := result.Save(r.dir, run); err != nil {
			return out, fmt.Errorf("save results: %w", err)
		}
	}
	for i, spec := range specs {
		label := fmt.Sprintf("[%d/%d] %s %s %s/s", i+1, len(specs), spec.model, spec.sc.Name, units.Num(spec.rate))
		if p.Reps > 1 {
			label += fmt.Sprintf(" rep %d", spec.rep)
		}
		cell, err := r.runCell(ctx, spec, label)
		for try := 1; err == nil && try <= p.Retries && retryable(cell); try++ {
			r.prog.logf("%s — retry %d of %d", cellLine(label, cell), try, p.Retries)
			discarded := append(cell.Discarded, result.Attempt{Validity: cell.Validity, Generator: cell.Generator.Health})
			cell, err = r.runCell(ctx, spec, fmt.Sprintf("%s retry %d", label, try))
			cell.Discarded = discarded
			cell.Validity.Reasons = append(cell.Validity.Reasons, retriedNote(discarded))
		}
		if err != nil {
			runErr = err
			break
		}
		run.Cells = append(run.Cells, cell)
		if !cell.Validity.Valid {
			out.Invalid++
		}
		r.prog.logf("%s", cellLine(label, cell))
		run.Finished = time.Now().UTC()
		if err := result.Save(r.dir, run); err != nil {
			return out, fmt.Errorf("save results: %w", err)
		}
		if opts.cellDone != nil {
			opts.cellDone(i, cell)
		}
	}
	run.SLOs = EvaluateSLOs(p, run.Cells)
	out.SLOBroken, out.SLOSkipped = SLOCounts(run.SLOs)
	run.Finished = time.Now().UTC()
	run.Interrupted = errors.Is(runErr, ErrInterrupted)
	if err := result.Save(r.dir, run); err != nil {
		return out, fmt.Errorf("save results: %w", err)
	}
	if runErr != nil {
		return out, runErr
	}
	return out, nil
}

// PlanError is a plan that cannot run as written (a user server whose command
// cannot start, nothing available): the caller's input, not the run, failed.
type PlanError struct{ Err error }

func (e *PlanError) Error() string { return e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

// skipLine says which models are skipped and why, in the plan's order:
// "node-loop (node not found: ...); apache-worker (...)".
func skipLine(models []string, skip map[string]string) string {
	var parts []string
	for _, m := range models {
		if reason, ok := skip[m]; ok {
			parts = append(parts, m+" ("+reason+")")
		}
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func noteSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

// makeRunDir creates parent/<UTC timestamp>-<name>, adding -2, -3 ... if a run
// started in the same second.
func makeRunDir(parent string, t time.Time, name string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	base := filepath.Join(parent, t.UTC().Format("20060102T150405Z")+"-"+name)
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			linkLatest(parent, filepath.Base(dir))
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("results directory: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// linkLatest points parent/latest at name, replacing the link atomically. It is
// a convenience: failing to make it is not an error.
func linkLatest(parent, name string) {
	tmp := filepath.Join(parent, "."+LatestLink+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return
	}
	if err := os.Rename(tmp, filepath.Join(parent, LatestLink)); err != nil {
		_ = os.Remove(tmp)
	}
}

// serveCommand is the `concbench serve` command line of a cell.
func (r *cellRunner) serveCommand(model string) launch.Command {
	c := launch.Command{
		Model:    model,
		Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: serverGrace, Tuning: r.opts.Plan.Server},
		CPUs:     r.serverCPUs,
	}
	if model == "cluster" && c.Balance == "" {
		// Named even when left to the default, so that server_args in
		// results.json says how this cluster spread its connections.
		c.Balance = launch.DefaultBalance
	}
	if len(r.opts.Profiles) > 0 {
		c.PprofAddr = "127.0.0.1:0"
		c.ProfileRates = profiling.NeedsRates(r.opts.Profiles)
	}
	return c
}

// judgeServer adds the server's side of the validity rules (see the package
// documentation) to the generator's verdict, which loadgen judged alone, the
// ceiling included. first and last are the cell's first and last /stats
// readings, died whether the server exited during the cell, gone the server
// processes that vanished during the window. When no request was answered it
// names the generator only if none was even sent while connections were free.
func judgeServer(v *result.Validity, res *loadgen.Result, first, last *stats.Snapshot, died bool, gone []int, srv *server) {
	flag := func(cause, format string, a ...any) {
		v.Invalidate(cause, fmt.Sprintf(format, a...))
	}
	if died {
		flag(result.CauseServer, "the server exited during the cell (%v)%s", srv.waitErr, srv.stderr.suffix())
	}
	// (The cluster's supervisor reports restarts in /stats.)
	if first != nil && last != nil && last.Restarts > first.Restarts {
		flag(result.CauseServer, "the server restarted %d child process(es) during the cell", last.Restarts-first.Restarts)
	}
	switch {
	case res.OK > 0:
	case res.Generator.ExhaustionErrors > 0:
		// The generator ran out of ports or descriptors: its verdict says so.
	case res.Requests == 0 && res.Saturated():
		flag(result.CauseServer, "no request was answered in the measured window: none could even be sent, every connection stayed busy with requests the server did not answer")
	case res.Requests == 0:
		flag(result.CauseGenerator, "no request was sent in the measured window")
	default:
		flag(result.CauseServer, "no request was answered successfully in the measured window: all %d failed (%s)", res.Requests, errorKinds(res.Classes))
	}
	if len(gone) > 0 && !died {
		flag(result.CauseServer, "server process(es) %v exited during the measured window", gone)
	}
}

// PoolBoundCPUShare: a cell over capacity by a saturated pool whose server
// used less than this share of one CPU, while rate × service time exceeded
// the connections, is pool-bound (see judgePoolBound).
const PoolBoundCPUShare = 0.5

// judgePoolBound turns a valid over-capacity cell into a generator-bound
// one when the generator's pool, not the server, was the limit: every
// connection was busy (rule (g)), the offered rate times the mean service
// time needs more requests in flight than there are connections (Little's
// law: N connections carry at most N / latency requests per second), and the
// server was nearly idle (its processes used less than PoolBoundCPUShare of
// a CPU): a server waiting on I/O with room for more requests in flight. A
// server that was busy (an event loop blocked by heavy requests) stays over
// capacity: its service time grew because of it.
func judgePoolBound(v *result.Validity, res *loadgen.Result, r result.Resources) {
	if !v.Valid || !v.OverCapacity || !res.Saturated() || r.Samples == 0 || r.MeanCPUPct >= 100*PoolBoundCPUShare {
		return
	}
	var n int64
	var sum float64
	for _, c := range res.Classes {
		n += c.Service.Count
		sum += c.Service.Mean * float64(c.Service.Count)
	}
	if n == 0 {
		return
	}
	meanMs := sum / float64(n)
	need := res.OfferedRPS * meanMs / 1000
	if need <= float64(res.MaxConnections) {
		return
	}
	v.OverCapacity = false
	v.Invalidate(result.CauseGenerator, fmt.Sprintf(
		"Pool-bound: offered %.0f req/s × mean service time %.1f ms needs %.0f requests in flight (Little's law), more than the %d connections, while the server used %.0f%% of a CPU: the generator's connection pool limited the cell, not the server. Raise max_connections to at least %.0f.",
		res.OfferedRPS, meanMs, need, res.MaxConnections, r.MeanCPUPct, need*1.25))
}

// errorKinds sums the classes' errors by kind: "refused 20, timeout 5".
func errorKinds(classes []result.Class) string {
	n := map[string]int64{}
	for _, c := range classes {
		for k, v := range c.ErrorsByKind {
			n[k] += v
		}
	}
	kinds := make([]string, 0, len(n))
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	if len(parts) == 0 {
		return "no error kind recorded"
	}
	return strings.Join(parts, ", ")
}

// retryable reports whether a cell is worth running again under
// plan.Plan.Retries: generator-bound for transient reasons only.
func retryable(c result.Cell) bool {
	v := c.Validity
	return !v.Valid && v.Cause == result.CauseGenerator && v.Transient
}

// retriedNote is the kept attempt's note about the ones discarded before it.
func retriedNote(discarded []result.Attempt) string {
	parts := make([]string, len(discarded))
	for i, a := range discarded {
		parts[i] = fmt.Sprintf("attempt %d", i+1)
		if g := a.Generator; g != nil {
			steal := "not read"
			if g.StealPct != nil {
				steal = fmt.Sprintf("%.1f%%", *g.StealPct)
			}
			parts[i] += fmt.Sprintf(" (generator stalls p99 %.2f ms, dispatch lag p99 %.2f ms, host steal %s)", g.HiccupP99Ms, g.DispatchLagP99Ms, steal)
		}
	}
	return fmt.Sprintf("Retried: earlier attempts came out generator-bound for transient reasons and were discarded (kept in discarded_attempts): %s; these figures are attempt %d's.",
		strings.Join(parts, "; "), len(discarded)+1)
}
