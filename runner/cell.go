package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/profiling"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/units"
)

// cellSpec is one cell to run.
type cellSpec struct {
	model string
	sc    plan.Scenario
	rate  float64
	rep   int
}

func (c cellSpec) id() string {
	return fmt.Sprintf("%s.%s.r%s.%d", c.model, c.sc.Name, units.Plain(c.rate), c.rep)
}

// cells lists a plan's cells in run order: all of repetition 1, then 2, ...;
// within one, scenario by scenario, rate by rate, the models side by side, so
// that models are compared close in time (A B A B ...).
func cells(p plan.Plan) []cellSpec {
	var out []cellSpec
	for rep := 1; rep <= p.Reps; rep++ {
		for _, sc := range p.Scenarios {
			for _, rate := range sc.Rates {
				for _, m := range p.Models {
					if !sc.RunsModel(m) {
						continue
					}
					out = append(out, cellSpec{model: m, sc: sc, rate: rate, rep: rep})
				}
			}
		}
	}
	return out
}

// runCell runs one cell. It returns an error only when ctx was cancelled (the
// cell is then dropped); every other failure makes an invalid cell with its reason.
func (r *cellRunner) runCell(ctx context.Context, spec cellSpec, label string) (result.Cell, error) {
	p := r.opts.Plan
	warmup, dur := spec.sc.Warmup.D(), spec.sc.Duration.D()
	cell := result.Cell{
		ID:             spec.id(),
		Model:          spec.model,
		Scenario:       spec.sc.Name,
		Rep:            spec.rep,
		Rate:           spec.rate,
		DurationSec:    dur.Seconds(),
		WarmupSec:      warmup.Seconds(),
		MaxConnections: spec.sc.MaxConnections,
		Classes:        []result.Class{},
		Timeline:       []result.Second{},
	}
	invalid := func(cause, format string, a ...any) result.Cell {
		cell.Validity.Invalidate(cause, fmt.Sprintf(format, a...))
		return cell
	}
	r.prog.cellStart(label, warmup+dur)

	var srv *server
	ls, err := r.launchFor(spec.model)
	if err == nil {
		cell.ServerArgs = record(ls)
		srv, err = startServer(ctx, ls, r.serverSet, r.opts.AllowRemote)
	}
	if err != nil {
		if ctx.Err() != nil {
			return cell, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		}
		if srv != nil {
			r.keepServerLog(&cell, srv)
		}
		return invalid(result.CauseServer, "server did not start: %v", err), nil
	}
	var idleWait time.Duration
	idle := idleQuiet
	if srv.pid > 0 && !srv.spec.attach {
		idleWait, idle = settleIdle(ctx, func() (treeReading, bool) { return readTree(srv.pid) }, idleStep, idleMaxWait)
		if idle == idleCancelled {
			_ = srv.stop()
			return cell, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		}
	}
	smp := startSampler(srv)      // its first reading is the idle one
	first, _ := smp.statsNow(ctx) // baseline: restarts, pids

	cfg := loadgen.Config{
		BaseURL:        "http://" + srv.addr,
		Mix:            r.mixFor(spec.model, spec.sc),
		NewConnections: spec.sc.NewConnections,
		Rate:           spec.rate,
		Warmup:         warmup,
		Duration:       dur,
		MaxConnections: spec.sc.MaxConnections,
		Timeout:        p.Timeout.D(),
		// MaxRequests: loadgen's default bounds the attack in count as well
		// as in time (the schedule plus a margin).
		Seed:        loadgen.MixSeed(spec.sc.Name, spec.rate, spec.rep),
		OutDir:      r.dir,
		CellID:      cell.ID,
		Progress:    r.prog.update,
		CeilingRPS:  r.ceilingRPS,
		AllowRemote: r.opts.AllowRemote,
	}
	var raw *os.File
	if r.opts.SaveRaw {
		name := cell.ID + ".bin"
		if raw, err = os.Create(filepath.Join(r.dir, name)); err != nil {
			smp.stop()
			_ = srv.stop()
			return cell, fmt.Errorf("save raw results: %w", err)
		}
		cfg.RawOut = raw
		defer raw.Close()
	}
	prof, profNotes := r.startProfiling(ctx, srv, spec, cell.ID, first, warmup, dur)
	var genProf *profiling.GeneratorCapture
	if len(r.opts.GeneratorProfiles) > 0 {
		genProf = profiling.StartGenerator(ctx, r.dir, cell.ID, r.opts.GeneratorProfiles, warmup, dur)
	}
	// Hard bound on the attack, whatever the generator does.
	attackCtx, cancel := context.WithTimeout(ctx, warmup+dur+p.Timeout.D()+30*time.Second)
	smp.attacking(time.Now(), warmup, dur)
	gm := startGenMem()
	var res *loadgen.Result
	var shards []result.Shard
	var aerr error
	if r.opts.Generators > 1 {
		res, shards, aerr = r.attackShards(attackCtx, cfg, spec)
	} else {
		res, aerr = r.attack(attackCtx, cfg)
	}
	gm.stop()
	cancel()
	if genProf != nil {
		files, notes := genProf.Wait()
		for k, f := range files {
			addFile(&cell, k, f)
		}
		profNotes = append(profNotes, notes...)
	}
	// The cell's last reading (restarts, pids). It joins the sampler's series:
	// when the sampler took none after the window's end, it is the window's
	// end reading.
	endCtx, cancelEnd := context.WithTimeout(context.Background(), 3*time.Second)
	last, lastErr := smp.statsNow(endCtx)
	cancelEnd()
	if prof != nil { // before the server stops: that would cut the captures off
		files, notes := prof.Wait()
		for k, f := range files {
			addFile(&cell, k, f)
		}
		profNotes = append(profNotes, notes...)
	}
	died := srv.exited()
	smp.stop()
	pids := smp.pidsSeen()
	stopErr := srv.stop()
	port := srv.port()
	if open, _, waited := drain(port); open > 0 {
		r.prog.logf("%s: %d connections to port %d still open after %s", label, open, port, waited.Round(time.Millisecond))
	}
	if ctx.Err() != nil {
		return cell, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	if raw != nil {
		if err := raw.Close(); err != nil {
			return cell, fmt.Errorf("save raw results: %w", err)
		}
		addFile(&cell, "raw", filepath.Base(raw.Name()))
	}
	r.keepServerLog(&cell, srv)
	if res == nil {
		if aerr == nil {
			aerr = errors.New("no result")
		}
		return invalid(result.CauseGenerator, "load generator failed: %v", aerr), nil
	}

	// What the generator measured.
	cell.Shards = shards
	cell.SentRPS = res.SentRPS
	cell.AchievedRPS = res.AchievedRPS
	cell.Requests, cell.OK, cell.Errors = res.Requests, res.OK, res.Errors
	cell.DispatchLag = res.DispatchLag
	cell.PeakInFlight = res.PeakInFlight
	cell.Censored, cell.NeverSent, cell.Drained = res.Censored, res.NeverSent, res.Drained
	cell.PoolFull = res.PoolFull
	cell.Retries, cell.Clamped = res.Retries, res.Clamped
	if !res.Window.Start.IsZero() {
		cell.MeasuredSec = math.Round(res.Window.End.Sub(res.Window.Start).Seconds()*1000) / 1000
	}
	if res.Classes != nil {
		cell.Classes = res.Classes
	}
	if res.Timeline != nil {
		cell.Timeline = res.Timeline
	}
	for k, v := range res.Files {
		addFile(&cell, k, relTo(r.dir, v))
	}
	ws, we := res.Window.Start, res.Window.End
	if ws.IsZero() { // fall back on the schedule
		we = time.Now()
		ws = we.Add(-dur)
	}

	// What the server did.
	cell.Resources = smp.resources(ws, we, cell.Requests)
	if cell.Resources.IdleRSSBytes > 0 {
		cell.Resources.IdleWaitSec = idleWait.Round(time.Millisecond).Seconds()
	}
	smp.joinTimeline(cell.Timeline, ws)
	cell.Generator = gm.window(ws, we)
	if len(shards) == 0 { // a merged cell's health is per shard (cell.Shards)
		h := res.Health()
		cell.Generator.Health = &h
	}
	gm.joinTimeline(cell.Timeline, ws)
	v := res.Validity
	if r.opts.verdict != nil {
		r.opts.verdict(cell.ID, &v)
	}
	// The server's figures of the window: from the last /stats reading
	// answered before it to the first one asked for after it.
	start, end, notes := smp.windowStats(ws, we)
	if end == nil && last != nil {
		end = last
		notes = append(notes, "no /stats reading was asked for after the window's end: loop delay, queue wait and runtime figures end at the cell's last reading")
	}
	if end != nil {
		var narrowed []string
		cell.Server, narrowed = narrow(end, start)
		v.Reasons = append(v.Reasons, notes...)
		v.Reasons = append(v.Reasons, narrowed...)
		cell.Server.PIDs = mergePIDs(cell.Server.PIDs, pids)
	} else {
		cell.Server.PIDs = pids
		if srv.spec.stats {
			v.Reasons = append(v.Reasons, fmt.Sprintf("no /stats at the end of the window: %v", lastErr))
		} else {
			v.Reasons = append(v.Reasons, "server figures not sampled: the server serves no concbench /stats (loop delay, pool and runtime figures are absent)")
		}
	}
	if srv.pid == 0 {
		v.Reasons = append(v.Reasons, "process figures not sampled: the target's pid is unknown (pass --target-pid)")
	}
	if aerr != nil {
		v.Invalidate(result.CauseGenerator, fmt.Sprintf("load generator stopped early: %v", aerr))
	}
	judgeServer(&v, res, first, last, died, smp.vanished(ws, we), srv)
	judgePoolBound(&v, res, cell.Resources)
	if stopErr != nil {
		v.Reasons = append(v.Reasons, "stopping the server: "+stopErr.Error())
	}
	v.Reasons = append(v.Reasons, profNotes...) // notes: the measurements stand
	v.Reasons = append(v.Reasons, smp.spoolNotes()...)
	if serverStealNoticed(cell.Resources) {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the hypervisor took %.1f%% of the server's CPU(s) %s during the window (/proc/stat steal): its latencies and CPU figures measure a busy host as well", *cell.Resources.ServerStealPct, srv.cpus))
	}
	switch idle {
	case idleBusy:
		v.Reasons = append(v.Reasons, fmt.Sprintf("the server was still busy %s after its health check (CPU, RSS or threads moving): its idle reading, and so RSS and thread growth, may count part of its start", units.Duration(idleWait)))
	case idleUnreadable:
		v.Reasons = append(v.Reasons, "the server's processes could not be read while waiting for it to go quiet: its idle reading was taken at once, and RSS and thread growth may count part of its start")
	}
	for _, pid := range pids {
		if !srv.spec.attach && procstat.Alive(pid) {
			v.Reasons = append(v.Reasons, fmt.Sprintf("server process %d is still running after the stop", pid))
		}
	}
	cell.Validity = v
	return cell, nil
}

// startProfiling starts the capture of the cell's profiles, when asked. It
// returns nil and a note when there is nothing to capture from.
func (r *cellRunner) startProfiling(ctx context.Context, srv *server, spec cellSpec, id string, first *stats.Snapshot, warmup, dur time.Duration) (*profiling.Capture, []string) {
	if len(r.opts.Profiles) == 0 {
		return nil, nil
	}
	addr := srv.pprofAddr
	if r.opts.pprofAddr != nil {
		addr = r.opts.pprofAddr(addr)
	}
	if addr == "" {
		return nil, []string{"profiling: the server printed no " + strings.TrimSpace(launch.PprofPrefix) + " line: no profiles"}
	}
	children := 0
	if first != nil {
		children = len(first.Procs)
	}
	var notes []string
	if children == 0 && spec.model == "cluster" {
		notes = append(notes, "profiling: no /stats before the window to count the cluster's children: profiled the supervisor only")
	}
	return profiling.Start(ctx, r.dir, id, addr, children, r.opts.Profiles, warmup, dur), notes
}

func addFile(c *result.Cell, kind, path string) {
	if c.Files == nil {
		c.Files = map[string]string{}
	}
	c.Files[kind] = path
}

// relTo makes a path written by the generator relative to the results directory.
func relTo(dir, path string) string {
	if !filepath.IsAbs(path) {
		if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
		return path
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(abs, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// ServerStealNotice is the host steal of the server's CPUs (%) from which a
// cell says so: the hypervisor takes a CPU in slices of ~10 ms, so 2 % of
// the window stolen can delay ~2 % of the requests by up to 10 ms — a cheap
// p99 of 1 ms becomes one of the host's. In the 120 cells of a fidelity run
// on a quiet host the median was 0.3 %, the 90th percentile 3.1 %.
const ServerStealNotice = 2.0

func serverStealNoticed(r result.Resources) bool {
	return r.ServerStealPct != nil && *r.ServerStealPct >= ServerStealNotice
}

func mergePIDs(a, b []int) []int {
	set := map[int]bool{}
	for _, p := range append(append([]int(nil), a...), b...) {
		set[p] = true
	}
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// cellLine is the one-line account of a finished cell.
func cellLine(label string, c result.Cell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %d errors", label, units.Rate(c.AchievedRPS), c.Errors)
	for _, cl := range c.Classes {
		switch {
		case cl.Response.Count > 0:
			fmt.Fprintf(&b, ", p99 %s %s", cl.Name, units.Ms(cl.Response.P99))
		case cl.Failed != nil && cl.Failed.Count > 0: // no success: no response time to show
			fmt.Fprintf(&b, ", %s all %d failed (p99 %s)", cl.Name, cl.Errors, units.Ms(cl.Failed.P99))
		default:
			fmt.Fprintf(&b, ", %s none measured", cl.Name)
		}
	}
	if c.Resources.Samples > 0 {
		fmt.Fprintf(&b, ", CPU %.0f%%, RSS %s", c.Resources.MeanCPUPct, units.Bytes(float64(c.Resources.PeakRSSBytes)))
		if c.Resources.PeakPSSBytes > 0 {
			fmt.Fprintf(&b, " (PSS %s)", units.Bytes(float64(c.Resources.PeakPSSBytes)))
		}
		fmt.Fprintf(&b, ", %d threads", c.Resources.PeakThreads)
		if serverStealNoticed(c.Resources) {
			fmt.Fprintf(&b, ", host steal %.1f%% of its CPU", *c.Resources.ServerStealPct)
		}
	}
	switch {
	case !c.Validity.Valid:
		b.WriteString(" — INVALID")
		if len(c.Validity.Reasons) > 0 {
			b.WriteString(": " + c.Validity.Reasons[0])
		}
	case c.Validity.OverCapacity:
		b.WriteString(" — valid, over capacity")
	default:
		b.WriteString(" — valid")
	}
	return b.String()
}

// keepServerLog saves what the server wrote on stderr (its last 8 KiB) beside
// the results, when it wrote anything.
func (r *cellRunner) keepServerLog(cell *result.Cell, srv *server) {
	log := srv.stderr.String()
	if strings.TrimSpace(log) == "" {
		return
	}
	name := cell.ID + ".server.log"
	if err := os.WriteFile(filepath.Join(r.dir, name), []byte(log), 0o644); err == nil {
		addFile(cell, "server-log", name)
	}
}
