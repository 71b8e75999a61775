//go:build !linux

package loadgen

import "time"

// timerSleeper is Linux's timerfd sleeper; elsewhere there is none, and
// precisePacer waits with Go timers.
type timerSleeper struct{}

func newTimerSleeper() *timerSleeper             { return nil }
func (*timerSleeper) sleep(d time.Duration) bool { return false }
func (*timerSleeper) close()                     {}
