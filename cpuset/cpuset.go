// Package cpuset pins processes to CPUs, so that the load generator and the
// server under test do not compete for the same cores.
package cpuset

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Set is a set of CPU numbers.
type Set []int

// Parse reads a taskset-style list such as "1", "0,2" or "0-3,6".
func Parse(s string) (Set, error) {
	var set Set
	seen := map[int]bool{}
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := cpuNum(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = cpuNum(hi); err != nil {
				return nil, fmt.Errorf("cpu list %q: %w", s, err)
			}
			if b < a {
				return nil, fmt.Errorf("cpu list %q: range %d-%d is backwards", s, a, b)
			}
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				set = append(set, c)
			}
		}
	}
	return set, nil
}

func cpuNum(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n >= 1024 {
		return 0, fmt.Errorf("bad cpu number %q", s)
	}
	return n, nil
}

// String renders the set as a comma-separated list.
func (s Set) String() string {
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

// Available returns the CPUs this process may run on.
func Available() (Set, error) {
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil {
		return nil, err
	}
	var s Set
	for c := 0; c < 1024; c++ {
		if m.IsSet(c) {
			s = append(s, c)
		}
	}
	return s, nil
}

// PinSelf restricts every thread of this process to the set (threads started
// later inherit it) and sets GOMAXPROCS to its size, which Go only derives from
// the affinity it starts with. The set may lie outside the current affinity
// (the kernel refuses CPUs that are offline or outside the cgroup).
func PinSelf(s Set) error {
	if len(s) == 0 {
		return fmt.Errorf("empty cpu set")
	}
	if err := PinAll(s); err != nil {
		return err
	}
	runtime.GOMAXPROCS(len(s))
	return nil
}

// PinAll pins every thread of this process to set, which may also widen the
// affinity again (to restore it after a run). It checks that no thread
// escaped: a thread the runtime starts while the threads are walked may
// inherit the old mask, so the walk is repeated until every thread has the new
// one (a few rounds at most). It does not change GOMAXPROCS.
func PinAll(set Set) error {
	if len(set) == 0 {
		return fmt.Errorf("empty cpu set")
	}
	want := mask(set)
	for round := 0; ; round++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		stray := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			var m unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &m); err != nil || m == want {
				continue // gone, or already pinned
			}
			stray++
			if err := unix.SchedSetaffinity(tid, &want); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d to CPUs %s: %w", tid, set, err)
			}
		}
		if stray == 0 {
			return nil
		}
		if round == 10 {
			return fmt.Errorf("%d threads kept another CPU affinity", stray)
		}
	}
}

// StartOn starts cmd with its CPU affinity set to cpus (none: inherited). A
// child inherits the affinity of the thread that forks it, so the fork happens
// on a locked thread pinned to cpus for the moment: the child starts pinned,
// and Go in it derives GOMAXPROCS (and the cluster model its process count)
// from that affinity, as it would under taskset. The forking thread lives on
// (it is only unlocked), so a child's Pdeathsig, which fires when the thread
// that forked it exits, does not fire early.
func StartOn(cmd *exec.Cmd, cpus Set) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	m := mask(cpus)
	if err := unix.SchedSetaffinity(0, &m); err != nil {
		return fmt.Errorf("pin to CPUs %s: %w", cpus, err)
	}
	err := cmd.Start()
	// Restoring the mask this thread had cannot fail.
	_ = unix.SchedSetaffinity(0, &old)
	return err
}

func mask(s Set) unix.CPUSet {
	var m unix.CPUSet
	for _, c := range s {
		m.Set(c)
	}
	return m
}
