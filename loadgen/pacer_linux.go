package loadgen

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerSleeper sleeps on a timerfd through the runtime's network poller: the
// goroutine parks, its P stays free to run other goroutines and to poll the
// network, and the kernel's high-resolution timer wakes the poller when the
// sleep is over. A Go timer instead wakes an idle process on the poller's
// millisecond grain, and a nanosleep system call would hold the P: with
// GOMAXPROCS=1 no answer is read and no Go timer fires during it (both were
// measured: answers read milliseconds late, the hiccup meter stalled).
type timerSleeper struct {
	f *os.File
}

func newTimerSleeper() *timerSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// A non-blocking descriptor: os.NewFile registers it with the poller.
	return &timerSleeper{f: os.NewFile(uintptr(fd), "loadgen-pacer-timerfd")}
}

// sleep waits d (> 0). It reports false when the timerfd failed; the caller
// then waits some other way.
func (s *timerSleeper) sleep(d time.Duration) bool {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return false
	}
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.TimerfdSettime(int(fd), 0, &its, nil) }); err != nil || serr != nil {
		return false
	}
	var expirations [8]byte
	_, err = s.f.Read(expirations[:]) // parks in the poller until the timer fires
	return err == nil
}

// close releases the timerfd. A sleep in progress returns false.
func (s *timerSleeper) close() { _ = s.f.Close() }
