// Package cpuset pins processes to CPUs, so that the load generator and the
// server under test do not compete for the same cores.
package cpuset

import (
	"fmt"
	"os"
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
	var m unix.CPUSet
	for _, c := range s {
		m.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &m); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin to cpus %s: %w", s, err)
		}
	}
	runtime.GOMAXPROCS(len(s))
	return nil
}
