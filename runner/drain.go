package runner

import (
	"time"

	"github.com/concbench/concbench/procstat"
)

// Socket drain between cells: the next cell must not start while the previous
// one's connections are still closing. TIME_WAIT sockets are left alone (they
// hold no resources a new server or the bounded pool needs, and last 60 s); a
// flood of them is waited on, bounded.
const (
	drainMax        = 3 * time.Second
	settle          = 200 * time.Millisecond
	timeWaitFlood   = 20000
	timeWaitMaxWait = 30 * time.Second
)

// drain waits, bounded, until no connection to port is still open (closing
// handshakes done) and TIME_WAIT sockets are not flooding the machine, then
// lets the CPUs settle. It returns what is left, for the log.
func drain(port int) (open, timeWait int, waited time.Duration) {
	start := time.Now()
	for {
		open, timeWait = procstat.Sockets(port)
		if open == 0 || time.Since(start) > drainMax {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for timeWait > timeWaitFlood && time.Since(start) < timeWaitMaxWait {
		time.Sleep(500 * time.Millisecond)
		_, timeWait = procstat.Sockets(0)
	}
	time.Sleep(settle)
	return open, timeWait, time.Since(start)
}
