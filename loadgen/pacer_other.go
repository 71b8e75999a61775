//go:build !linux

package loadgen

import "time"

// kernelSleep sleeps d. Outside Linux it is time.Sleep: no timer slack to cut.
func kernelSleep(d time.Duration) { time.Sleep(d) }
