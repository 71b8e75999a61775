package runner

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
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

// TCP states of /proc/net/tcp.
const tcpTimeWait = "06"

// sockets counts the TCP sockets with port at either end, apart from TIME_WAIT
// ones, and all TIME_WAIT sockets on the machine.
func sockets(port int) (open, timeWait int) {
	hexPort := strings.ToUpper(strconv.FormatInt(int64(port), 16))
	for len(hexPort) < 4 {
		hexPort = "0" + hexPort
	}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 {
				continue
			}
			if fs[3] == tcpTimeWait {
				timeWait++
				continue
			}
			if port > 0 && (strings.HasSuffix(fs[1], ":"+hexPort) || strings.HasSuffix(fs[2], ":"+hexPort)) {
				open++
			}
		}
		fh.Close()
	}
	return open, timeWait
}

// drain waits, bounded, until no connection to port is still open (closing
// handshakes done) and TIME_WAIT sockets are not flooding the machine, then
// lets the CPUs settle. It returns what is left, for the log.
func drain(port int) (open, timeWait int, waited time.Duration) {
	start := time.Now()
	for {
		open, timeWait = sockets(port)
		if open == 0 || time.Since(start) > drainMax {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for timeWait > timeWaitFlood && time.Since(start) < timeWaitMaxWait {
		time.Sleep(500 * time.Millisecond)
		_, timeWait = sockets(0)
	}
	time.Sleep(settle)
	return open, timeWait, time.Since(start)
}
