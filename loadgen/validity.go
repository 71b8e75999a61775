package loadgen

import (
	"fmt"
	"time"

	"github.com/concbench/concbench/result"
)

// verdictInput is what the validity rules look at (see the package
// documentation for the rules themselves).
type verdictInput struct {
	offered  float64       // req/s
	measured time.Duration // length of the measured window
	due      int64         // requests the schedule had due in the window
	sent     int64         // requests due in the window that were sent
	missed   int64         // requests due in the window never sent
	answers  int64         // answers with a status received during the window
	errors   int64
	lagP99   time.Duration
	freeP99  time.Duration // lag p99 of the requests that found a connection free
	freeN    int64
	poolFull float64 // share of the window with every connection busy
	peak     int
	maxConns int
	ceiling  float64
	gen      Generator
	stop     string
}

func (r *Result) verdictInput(measured time.Duration, due, answers int64, ceiling float64) verdictInput {
	return verdictInput{
		offered:  r.OfferedRPS,
		measured: measured,
		due:      due,
		sent:     r.Requests + r.Censored - r.NeverSent,
		missed:   r.NeverSent,
		answers:  answers,
		errors:   r.Errors,
		lagP99:   time.Duration(r.DispatchLag.P99 * 1e6),
		freeP99:  time.Duration(r.FreeLag.P99 * 1e6),
		freeN:    r.FreeLag.Count,
		poolFull: r.PoolFull,
		peak:     r.PeakInFlight,
		maxConns: r.MaxConnections,
		ceiling:  ceiling,
		gen:      r.Generator,
		stop:     r.StoppedBy,
	}
}

// Saturated reports whether the connection pool counted as saturated during
// the measured window: full for at least SaturatedShare of it.
func (r *Result) Saturated() bool { return isSaturated(r.PoolFull) }

func isSaturated(poolFull float64) bool { return poolFull >= SaturatedShare }

// judge applies the validity rules (a)–(h) of the package documentation. It
// is the only judge of the generator's side of a cell: the orchestrator adds
// the server's rules (package runner) and nothing else. It is a pure function
// of what the attack measured and of its configuration (rate, ceiling).
func judge(in verdictInput) result.Validity {
	v := result.Validity{Valid: true}
	// A flag of the machine's state (a, b, e) may not recur on a rerun; one
	// of the configuration (c, d, f) will.
	permanent := false
	bound := func(format string, args ...any) {
		v.Invalidate(result.CauseGenerator, "Generator-bound: "+fmt.Sprintf(format, args...))
	}
	fixed := func(format string, args ...any) {
		bound(format, args...)
		permanent = true
	}
	// (d) depends on the configuration alone, so it holds whether or not
	// anything was measured.
	overCeiling := func() {
		if in.ceiling > 0 && in.offered > GeneratorBoundFraction*in.ceiling { // (d)
			fixed("offered %.0f req/s is %.0f%% of this generator's ceiling of %.0f req/s, above the %.0f%% limit.",
				in.offered, 100*in.offered/in.ceiling, in.ceiling, 100*GeneratorBoundFraction)
		}
	}
	if in.measured <= 0 || in.due == 0 { // (f)
		fixed("nothing was measured: the attack stopped (%s) before its measured window began.", in.stop)
		overCeiling()
		return v
	}
	saturated := isSaturated(in.poolFull)
	pool := fmt.Sprintf("all %d connections were busy for %.1f%% of the window (peak in flight %d)",
		in.maxConns, 100*in.poolFull, in.peak)
	secs := in.measured.Seconds()
	// Answers are counted by when they arrived, so that count may miss one
	// request at an edge of the window: allow one (and the same for sent, as
	// a cancellation may cut a tick).
	sentShare := float64(min(in.sent+1, in.due)) / float64(in.due)
	answeredShare := float64(min(in.answers+1, in.due)) / float64(in.due)

	if sentShare < MinSentShare && !saturated { // (a)
		bound("sent %.0f req/s, %.1f%% of the %.0f offered (%d requests for %d due), though %s.",
			float64(in.sent)/secs, 100*float64(in.sent)/float64(in.due), in.offered, in.sent, in.due, pool)
	}
	switch {
	case in.lagP99 > MaxDispatchLagP99 && !saturated: // (b)
		bound("dispatch lag p99 was %.2f ms, above %s, though %s.",
			ms(in.lagP99), MaxDispatchLagP99, pool)
	case saturated && in.freeP99 > MaxDispatchLagP99 && in.freeN >= int64(result.MinSamples(0.99)):
		// (b), per request: a pool full for part of the window excuses
		// the lag of the requests that waited for a connection, not of
		// those that found one free.
		bound("dispatch lag p99 of the %d requests that found a connection free was %.2f ms, above %s (%s at other times).",
			in.freeN, ms(in.freeP99), MaxDispatchLagP99, pool)
	}
	if in.gen.ExhaustionErrors > 0 { // (c)
		fixed("%d requests failed because the generator ran out of local ports or file descriptors, e.g. %q.",
			in.gen.ExhaustionErrors, in.gen.ExhaustionSample)
	}
	overCeiling()
	if in.gen.CPUs > 0 && in.gen.CPUShare >= MaxGeneratorCPUShare { // (e)
		// The generator's own work filled its CPUs: a rate too high for it,
		// which a rerun repeats — unless the host was stealing the CPU.
		flag := fixed
		if in.gen.StealShare >= StealNoticeable {
			flag = bound
		}
		flag("the generator process used %.0f%% of its %d CPU(s) during the window, at or above %.0f%%.",
			100*in.gen.CPUShare, in.gen.CPUs, 100*MaxGeneratorCPUShare)
	} else if in.gen.HiccupP99 >= MaxHiccupP99 {
		bound("the generator stalled %.2f ms or more for 1%% of the window (hiccup p99; max %.2f ms), at or above %s: it was starved of CPU%s.",
			ms(in.gen.HiccupP99), ms(in.gen.HiccupMax), MaxHiccupP99, stealClause(in.gen))
	}
	if !v.Valid {
		v.Transient = !permanent
		g := in.gen
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"Evidence: generator CPU %.0f%% of %d CPU(s), %d involuntary context switches; stalls p99 %.2f ms, max %.2f ms; goroutine scheduling latency p99 ≤ %.2f ms, max ≤ %.2f ms; %d GC pauses totalling %.2f ms, longest ≤ %.2f ms; host steal %s; %d requests due in the window never sent; %s.",
			100*g.CPUShare, g.CPUs, g.InvoluntarySwitches, ms(g.HiccupP99), ms(g.HiccupMax), ms(g.SchedLatencyP99), ms(g.SchedLatencyMax),
			g.GCPauses, ms(g.GCPauseTotal), ms(g.GCPauseMax), stealText(g), in.missed, pool))
		return v
	}
	if saturated { // (g)
		v.OverCapacity = true
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"Over capacity: %s, so answers, not the generator, limited the cell (sent %.0f of %.0f req/s offered, dispatch lag p99 %.2f ms, %d requests due never sent).",
			pool, float64(in.sent)/secs, in.offered, ms(in.lagP99), in.missed))
	}
	if answeredShare < MinSentShare && sentShare >= MinSentShare { // (h)
		v.OverCapacity = true
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"Over capacity: %.0f answers/s, %.1f%% of the %.0f req/s offered, while %.1f%% were sent: answers came back slower than requests left, or not at all (%d errors).",
			float64(in.answers)/secs, 100*float64(in.answers)/float64(in.due), in.offered, 100*float64(in.sent)/float64(in.due), in.errors))
	}
	return v
}

// StealNoticeable is the host steal (share of the generator's CPUs' time)
// from which a stall verdict names the hypervisor as the likely thief: on
// the VM this was built on an idle host stole under 1 %, a busy one 10–30 %
// of a CPU in slices of ~10 ms, and the generator's own trace showed its
// socket reads "taking" 10–20 ms with nothing else in the process running.
const StealNoticeable = 0.02

// stealClause says who took the CPU when the host's steal is noticeable.
func stealClause(g Generator) string {
	if g.StealShare < StealNoticeable {
		return ""
	}
	return fmt.Sprintf(" — by the hypervisor: it stole %.1f%% of CPU(s) %s during the window (/proc/stat steal), a busy host rather than the generator's own work; rerun when the host is quieter",
		100*g.StealShare, g.StealCPUs)
}

// stealText is the evidence's account of host steal: "12.0% of CPU(s) 0",
// or "not read" when /proc/stat or the affinity could not be read.
func stealText(g Generator) string {
	if len(g.StealCPUs) == 0 {
		return "not read"
	}
	return fmt.Sprintf("%.1f%% of CPU(s) %s", 100*g.StealShare, g.StealCPUs)
}
