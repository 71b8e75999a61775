package loadgen

import (
	"testing"
	"time"
)

// TestTimerSleeper: the timerfd is pollable (a read that is not would fail
// with EAGAIN at once and the pacer would fall back to Go timers), sleeps at
// least as long as asked, and fails once closed.
func TestTimerSleeper(t *testing.T) {
	s := newTimerSleeper()
	if s == nil {
		t.Fatal("newTimerSleeper() = nil: no timerfd")
	}
	for _, d := range []time.Duration{time.Nanosecond, 50 * time.Microsecond, 2 * time.Millisecond} {
		start := time.Now()
		if !s.sleep(d) {
			t.Fatalf("sleep(%s) = false", d)
		}
		if took := time.Since(start); took < d {
			t.Errorf("sleep(%s) returned after %s", d, took)
		}
	}
	s.close()
	if s.sleep(time.Millisecond) {
		t.Error("sleep after close = true")
	}
}
