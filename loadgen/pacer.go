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

// spinLead is how early precisePacer stops sleeping: within it, it yields to
// every other runnable goroutine and checks the clock again
// (runtime.Gosched) until the tick is due, which absorbs the wake-up latency
// of the timer and of the scheduler. While it yields the network is polled
// only when nothing else is runnable: an answer arriving then is read up to
// spinLead late.
const spinLead = 20 * time.Microsecond

// precisePacer is the pacer vegeta runs when Config.Pacing is
// PacingPrecise: it asks inner (the schedule) how long to wait before each
// tick, waits that long itself, precisely, and tells vegeta to send at once.
// vegeta's own loop sleeps with time.Sleep, and a Go timer wakes an idle
// process on the network poller's millisecond grain (it waits in epoll with a
// timeout in whole milliseconds): at 1000 req/s ticks then left about 0.5 ms
// late at the p50 (MEASURING.md), which every cheap response time carried.
//
// On Linux it sleeps on a timerfd that the runtime's poller waits on beside
// the connections (timerSleeper), so nothing else waits while it sleeps, then
// yields for the last spinLead. Elsewhere, or if the timerfd fails, it sleeps
// with time.Sleep, as vegeta does.
//
// Before the first sleep of each tick it yields once, so the worker it has
// just handed a tick to (readied on this P, behind the pacer) sends its
// request first.
//
// Its CPU cost — a timer set and two reads per tick, and the final spin — is
// measured by `concbench ceiling` (generator CPU at fixed rates, both
// pacings).
type precisePacer struct {
	inner vegeta.Pacer
	sl    *timerSleeper // nil: time.Sleep
	began time.Time     // the origin of vegeta's elapsed, set at the first call
	once  bool
}

var _ vegeta.Pacer = (*precisePacer)(nil)

func newPrecisePacer(inner vegeta.Pacer) *precisePacer {
	return &precisePacer{inner: inner, sl: newTimerSleeper()}
}

// close releases the pacer's timer once vegeta no longer calls Pace (its
// results channel is closed).
func (p *precisePacer) close() {
	if p.sl != nil {
		p.sl.close()
	}
}

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
	p.waitUntil(p.began.Add(elapsed + wait))
	return 0, false
}

// Rate implements vegeta.Pacer.
func (p *precisePacer) Rate(elapsed time.Duration) float64 { return p.inner.Rate(elapsed) }

// waitUntil returns at t, or as soon after it as the CPU allows.
func (p *precisePacer) waitUntil(t time.Time) {
	yielded := false
	for {
		left := time.Until(t)
		switch {
		case left <= 0:
			return
		case left > spinLead && !yielded:
			runtime.Gosched()
			yielded = true
		case left > spinLead && p.sl != nil:
			if !p.sl.sleep(left - spinLead) {
				p.sl = nil // closed or failed: Go timers from now on
			}
		case left > spinLead:
			time.Sleep(left)
		default:
			runtime.Gosched()
		}
	}
}
