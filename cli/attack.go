package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/runner"
	"github.com/concbench/concbench/shard"
	"github.com/concbench/concbench/units"
)

const attackArgs = "--target http://HOST:PORT --out DIR [--plan FILE|NAME] [--scenario S] [--rate R] [--shard i/N] [--start-at RFC3339] [--allow-remote] [--emit]"

// cmdAttack runs one shard of one cell against a running server and writes
// its results directory. It exits 0 once it measured, valid or not: the
// verdict is in results.json, and concbench merge judges the whole cell.
func cmdAttack(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "attack", attackArgs+"\n\n"+
		"Offers shard i of N of one cell — rate/N, its ticks offset by i/rate, so that\n"+
		"N shards together send the plan's constant-rate arrivals — from --start-at on,\n"+
		"and writes a results directory of one cell; concbench merge adds the shards up.")
	planRef := fs.String("plan", "", "plan `file` or built-in plan name (default "+plan.DefaultBuiltin+")")
	scName := fs.String("scenario", "", "the plan's `scenario` (default: its only one)")
	rate := fs.Float64("rate", 0, "the whole cell's offered rate in `req/s`, all shards together (default: the scenario's only rate)")
	target := fs.String("target", "", "the server, `http://HOST:PORT`")
	shardSpec := fs.String("shard", "0/1", "this generator's share, `i/N` (0 ≤ i < N)")
	startAt := fs.String("start-at", "", "the shards' shared start, RFC 3339 `time` (default: now)")
	out := fs.String("out", "", "results `directory` to write")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback target")
	name := fs.String("name", plan.DefaultTargetName, "the target's `name` in cells, tables and charts")
	rep := fs.Int("rep", 1, "the cell's repetition `number`")
	duration := fs.Duration("duration", 0, "measured window (default: the plan's)")
	warmup := fs.Duration("warmup", -1, "warmup, not counted (default: the plan's)")
	maxConns := fs.Int("max-connections", 0, "this shard's connection pool (default: the scenario's divided by N, rounded up, so the server sees as many connections as from one generator)")
	seed := fs.Int64("seed", 0, "mix `seed` of shard 0; shard i uses seed+i (default: from the scenario, rate and repetition, as run does: every model gets the same sequence)")
	ceilingRPS := fs.Float64("ceiling", 0, "one generator's ceiling in `req/s` against this target: a shard offered above 70% of it is invalid")
	emit := fs.Bool("emit", false, "also print the results directory on stdout as one framed line (see concbench k8s collect)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	a, err := newAttack(*planRef, *scName, *rate, *shardSpec, *name, *rep, *duration, *warmup)
	if err != nil {
		return usageError("attack: %v", err)
	}
	switch {
	case *target == "":
		return usageError("attack: --target is required")
	case *out == "":
		return usageError("attack: --out is required")
	}
	planned := time.Now()
	if *startAt != "" {
		if planned, err = time.Parse(time.RFC3339Nano, *startAt); err != nil {
			return usageError("attack: --start-at: %v", err)
		}
	}
	a.p.Target = &plan.Target{Name: a.name, URL: strings.TrimSuffix(*target, "/")}
	cfg := loadgen.Config{
		BaseURL:        strings.TrimSuffix(*target, "/"),
		AllowRemote:    *allowRemote,
		Mix:            a.sc.Mix,
		Rate:           a.rate,
		Warmup:         a.sc.Warmup.D(),
		Duration:       a.sc.Duration.D(),
		MaxConnections: *maxConns,
		Timeout:        a.p.Timeout.D(),
		Seed:           *seed,
		OutDir:         *out,
		CellID:         a.id,
		CeilingRPS:     *ceilingRPS,
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = (a.sc.MaxConnections + a.sh.Count - 1) / a.sh.Count
	}
	if cfg.Seed == 0 {
		cfg.Seed = loadgen.MixSeed(a.sc.Name, a.rate, a.rep)
	}
	cfg.Seed += int64(a.sh.Index)
	if err := a.sh.Apply(&cfg); err != nil {
		return usageError("attack: %v", err)
	}

	// The start barrier.
	if wait := time.Until(planned); wait > 0 {
		fmt.Fprintf(env.Stderr, "concbench attack: shard %d/%d of %s waits %s for %s\n", a.sh.Index, a.sh.Count, a.id, wait.Round(time.Millisecond), planned.Format(time.RFC3339Nano))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return withCode(ExitInterrupted, fmt.Errorf("attack: interrupted before the start"))
		case <-t.C:
		}
	}
	clock := shard.ReadClock()
	started := time.Now()
	res, aerr := loadgen.Attack(ctx, cfg)
	if res == nil {
		return fmt.Errorf("attack: %w", aerr)
	}
	cell := shard.Cell(a.id, a.sh, cfg, res, planned, clock)
	cell.Model, cell.Scenario, cell.Rep = a.name, a.sc.Name, a.rep
	if aerr != nil {
		cell.Validity.Invalidate(result.CauseGenerator, fmt.Sprintf("load generator stopped early: %v", aerr))
		cell.Shards[0].Validity = cell.Validity
	}
	run := &result.Run{
		Plan:     a.p,
		Env:      runner.Environment(Version, ""),
		Started:  started.UTC(),
		Finished: time.Now().UTC(),
		Cells:    []result.Cell{cell},
	}
	run.Env.LoadgenGOMAXPROCS = res.Generator.CPUs
	run.Env.Pinning.Note = fmt.Sprintf("generator shard %d/%d", a.sh.Index, a.sh.Count)
	if err := result.Save(*out, run); err != nil {
		return fmt.Errorf("attack: %w", err)
	}
	s := cell.Shards[0]
	verdict := "valid"
	if !cell.Validity.Valid {
		verdict = "INVALID: " + strings.Join(cell.Validity.Reasons, " ")
	}
	fmt.Fprintf(env.Stderr, "concbench attack: shard %d/%d of %s: %s sent, %d missed, started %.3f ms after --start-at — %s\n",
		s.Index, s.Count, a.id, units.Rate(cell.SentRPS), s.Missed, s.LateMs, verdict)
	if *emit {
		if err := shard.Emit(env.Stdout, *out, s); err != nil {
			return fmt.Errorf("attack: --emit: %w", err)
		}
	}
	if errors.Is(aerr, context.Canceled) {
		return withCode(ExitInterrupted, fmt.Errorf("attack: interrupted; results kept in %s", *out))
	}
	return nil
}

// attack is one shard of one cell of a plan.
type attack struct {
	p        plan.Plan
	sc       plan.Scenario
	rate     float64
	sh       loadgen.Shard
	name, id string
	rep      int
}

// newAttack resolves the plan, picks the scenario and rate, and names the cell
// as run names its cells (NAME.SCENARIO.rRATE.REP), the same for every shard.
func newAttack(planRef, scName string, rate float64, shardSpec, name string, rep int, duration, warmup time.Duration) (*attack, error) {
	sh, err := parseShard(shardSpec)
	if err != nil {
		return nil, err
	}
	p, err := plan.Resolve(planRef)
	if err != nil {
		return nil, err
	}
	o := plan.Overrides{Duration: duration}
	if warmup == 0 {
		o.Warmup = plan.NoWarmup
	} else if warmup > 0 {
		o.Warmup = warmup
	}
	if scName != "" {
		o.Scenarios = []string{scName}
	}
	if err := p.Apply(o); err != nil {
		return nil, err
	}
	if len(p.Scenarios) != 1 {
		var names []string
		for _, s := range p.Scenarios {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("--scenario: plan %s has %d scenarios (%s): name one", p.Name, len(names), strings.Join(names, ", "))
	}
	sc := p.Scenarios[0]
	if rate == 0 {
		if len(sc.Rates) != 1 {
			return nil, fmt.Errorf("--rate: scenario %s has %d rates: name one", sc.Name, len(sc.Rates))
		}
		rate = sc.Rates[0]
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("--rate %g: want > 0", rate)
	}
	sc.Rates = []float64{rate}
	p.Scenarios = []plan.Scenario{sc}
	if rep < 1 {
		return nil, fmt.Errorf("--rep %d: want ≥ 1", rep)
	}
	p.Models = []string{name}
	id := fmt.Sprintf("%s.%s.r%s.%d", name, sc.Name, units.Plain(rate), rep)
	return &attack{p: p, sc: sc, rate: rate, sh: sh, name: name, id: id, rep: rep}, nil
}

// parseShard reads "i/N".
func parseShard(s string) (loadgen.Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return loadgen.Shard{}, fmt.Errorf("--shard %q: want i/N, e.g. 0/2", s)
	}
	sh := loadgen.Shard{Index: i, Count: n}
	if err := sh.Validate(); err != nil {
		return sh, fmt.Errorf("--shard: %v", err)
	}
	return sh, nil
}
