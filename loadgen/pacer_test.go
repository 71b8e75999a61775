package loadgen

import (
	"testing"
	"time"
)

// TestWaitUntilNeverEarly: whichever way of waiting the time left selects
// (none, a spin, the timerfd, time.Sleep once it is closed), waitUntil
// returns at or after its target, never before: a tick sent early would make
// its dispatch lag negative and its response time too short.
func TestWaitUntilNeverEarly(t *testing.T) {
	p := newPrecisePacer(fixedPacer{})
	for _, closed := range []bool{false, true} {
		if closed {
			p.close()
		}
		for _, left := range []time.Duration{-time.Millisecond, 0, spinLead / 2, spinLead + 20*time.Microsecond, 500 * time.Microsecond, 3 * time.Millisecond} {
			target := time.Now().Add(left)
			p.waitUntil(target)
			if now := time.Now(); now.Before(target) {
				t.Errorf("waitUntil(now%+v), timer closed %t, returned %s before its target", left, closed, target.Sub(now))
			}
		}
	}
	if p.sl != nil {
		t.Errorf("after its timer was closed the pacer still holds it")
	}
}

// TestPrecisePacer: the wrapper waits for each tick itself and tells vegeta to
// send at once, passes the inner pacer's stop and late ticks through, and
// returns no earlier than the inner pacer's wait after vegeta's origin.
func TestPrecisePacer(t *testing.T) {
	type call struct {
		wait time.Duration
		stop bool
	}
	for _, c := range []call{{2 * time.Millisecond, false}, {300 * time.Microsecond, false}, {0, false}, {-time.Second, false}, {time.Hour, true}} {
		p := newPrecisePacer(fixedPacer{c.wait, c.stop})
		defer p.close()
		origin := time.Now()
		const elapsed = time.Millisecond
		p.began, p.once = origin.Add(-elapsed), true // as if vegeta began 1 ms ago
		wait, stop := p.Pace(elapsed, 7)
		now := time.Now()
		switch {
		case c.stop:
			if !stop {
				t.Errorf("Pace with inner (%s, %t) = (%s, %t); want stop", c.wait, c.stop, wait, stop)
			}
			if now.Sub(origin) > time.Second {
				t.Errorf("Pace with inner (%s, %t) waited %s before stopping", c.wait, c.stop, now.Sub(origin))
			}
		case c.wait <= 0:
			if wait != c.wait || stop {
				t.Errorf("Pace with inner (%s, %t) = (%s, %t); want the inner pacer's answer", c.wait, c.stop, wait, stop)
			}
		default:
			if wait != 0 || stop {
				t.Errorf("Pace with inner (%s, %t) = (%s, %t); want (0s, false)", c.wait, c.stop, wait, stop)
			}
			if due := origin.Add(c.wait); now.Before(due) {
				t.Errorf("Pace with inner (%s, %t) returned %s before the tick was due", c.wait, c.stop, due.Sub(now))
			}
		}
	}
}

// fixedPacer answers every Pace with the same wait and stop.
type fixedPacer struct {
	wait time.Duration
	stop bool
}

func (f fixedPacer) Pace(time.Duration, uint64) (time.Duration, bool) { return f.wait, f.stop }
func (f fixedPacer) Rate(time.Duration) float64                       { return 1 }
