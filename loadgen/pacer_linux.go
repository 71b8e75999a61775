package loadgen

import (
	"syscall"
	"time"
)

// prSetTimerslack is prctl's PR_SET_TIMERSLACK (linux/prctl.h).
const prSetTimerslack = 29

// kernelSleep sleeps d in the kernel (nanosleep) on this thread, with its
// timer slack cut to 1 ns: the default 50 µs slack lets the kernel wake a
// normal thread up to 50 µs late to batch wake-ups. syscall.Nanosleep enters
// the runtime's system call state, so the P can be handed to another thread
// if the sleep lasts.
func kernelSleep(d time.Duration) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // an early return (EINTR) only means another turn
}
