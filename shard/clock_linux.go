package shard

import (
	"golang.org/x/sys/unix"

	"github.com/concbench/concbench/result"
)

// ReadClock asks the kernel how well this host's clock is disciplined
// (adjtimex, read only: a zero Modes changes nothing).
func ReadClock() result.Clock {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return result.Clock{Source: "adjtimex failed: " + err.Error()}
	}
	return result.Clock{
		Source:       "adjtimex",
		Synchronized: state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0,
		EstErrorMs:   float64(tx.Esterror) / 1000,
		MaxErrorMs:   float64(tx.Maxerror) / 1000,
	}
}
