package loadgen

import (
	"runtime"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Pacing modes of Config.Pacing.
const (
	// PacingPrecise waits for every tick itself (precisePacer): dispatch lag
	// of tens of microseconds instead of up to a millisecond, for some CPU
	// (see precisePacer). It is the default.
	PacingPrecise = "precise"
	// PacingVegeta leaves the waiting to vegeta's pacing loop (time.Sleep):
	// Go's timers wake an idle process on a millisecond grain, so cheap
	// requests leave up to a millisecond late (about half of one at the p50).
	PacingVegeta = "vegeta"
)

// Where precisePacer switches from one way of waiting to the next, by the
// time left until the tick is due.
const (
	// Beyond coarseLead it sleeps on a Go timer, which wakes an idle process
	// up to a millisecond late (the runtime's network poller waits in whole
	// milliseconds), so it stops coarseLead early.
	coarseLead = 1500 * time.Microsecond
	// Between spinLead and coarseLead it sleeps in the kernel
	// (clock_nanosleep, with the thread's timer slack cut to 1 ns on Linux),
	// which wakes within microseconds to tens of them, and stops spinLead
	// early.
	spinLead = 30 * time.Microsecond
	// Within spinLead it yields to every other runnable goroutine and
	// checks the clock again (runtime.Gosched), until the tick is due.
)

// precisePacer is the pacer vegeta runs when Config.Pacing is
// PacingPrecise: it asks inner (the schedule) how long to wait before each
// tick, waits that long itself, precisely, and tells vegeta to send at once.
// vegeta's own loop sleeps with time.Sleep, and a Go timer wakes an idle
// process on the network poller's millisecond grain: at 1000 req/s ticks then
// left about 0.5 ms late at the p50 (MEASURING.md), which every cheap
// response time carried.
//
// The pacing goroutine is not locked to an OS thread: a locked goroutine costs
// two thread switches each time it blocks and resumes, which at high rates is
// every tick. Instead it sets the timer slack of whatever thread it is on
// before each kernel sleep (setTimerSlack; a thread's slack persists, so the
// runtime's own sleeps on that thread get more precise too).
//
// Before a kernel sleep it yields once, so that the worker it has just handed
// a tick to (readied on this P, behind the pacer) sends that request now
// rather than after the sleep: with GOMAXPROCS=1 a P inside a system call is
// only handed to another thread by the runtime's monitor (sysmon), tens of
// microseconds later. While the pacer yields in the last spinLead, runnable
// goroutines take turns with it, but the network is polled only when nothing
// else is runnable: an answer arriving then is read up to spinLead late.
//
// Its CPU cost is the kernel sleep's thread hand-offs and the final spin: see
// TestPacerPrecision and `concbench ceiling`, which measure it.
type precisePacer struct {
	inner vegeta.Pacer
	began time.Time // the origin of vegeta's elapsed, set at the first call
	once  bool
}

var _ vegeta.Pacer = (*precisePacer)(nil)

// Pace implements vegeta.Pacer. vegeta calls it from its one pacing
// goroutine: it returns when tick hits is due, or at once when it is late.
func (p *precisePacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if !p.once {
		p.began, p.once = time.Now().Add(-elapsed), true
	}
	wait, stop := p.inner.Pace(elapsed, hits)
	if stop || wait <= 0 {
		return wait, stop
	}
	waitUntil(p.began.Add(elapsed + wait))
	return 0, false
}

// Rate implements vegeta.Pacer.
func (p *precisePacer) Rate(elapsed time.Duration) float64 { return p.inner.Rate(elapsed) }

// waitUntil returns at t, or as soon after it as the CPU allows.
func waitUntil(t time.Time) {
	yielded := false
	for {
		left := time.Until(t)
		switch {
		case left <= 0:
			return
		case left > coarseLead:
			time.Sleep(left - coarseLead)
		case left > spinLead && !yielded:
			runtime.Gosched()
			yielded = true
		case left > spinLead:
			kernelSleep(left - spinLead)
		default:
			runtime.Gosched()
		}
	}
}
