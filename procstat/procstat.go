// Package procstat reads a process's resource figures from Linux /proc: what the
// harness samples from a server while it runs, and what a server reports about
// itself in /stats.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ClockTicks is the kernel's USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Sample is one reading of a process.
type Sample struct {
	// CPU time used so far, in seconds (user + system).
	UserSec, SysSec float64
	RSSBytes        int64
	Threads         int
	// Context switches so far: voluntary (blocked, e.g. waiting for I/O) and
	// involuntary (preempted: a sign of CPU contention).
	VoluntaryCtx, InvoluntaryCtx int64
}

// Read samples process pid (0 means this process).
func Read(pid int) (Sample, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var s Sample
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	if err := parseStatus(status, &s); err != nil {
		return s, fmt.Errorf("%s/status: %w", dir, err)
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	if err := parseStat(stat, &s); err != nil {
		return s, fmt.Errorf("%s/stat: %w", dir, err)
	}
	return s, nil
}

// ReadSelf returns this process's RSS and thread count without the CPU figures
// (one file read: cheap enough to call from a /stats handler).
func ReadSelf() (rss int64, threads int, err error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	var s Sample
	err = parseStatus(status, &s)
	return s.RSSBytes, s.Threads, err
}

func parseStatus(b []byte, s *Sample) error {
	found := 0
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(key) {
		case "VmRSS":
			s.RSSBytes = n * 1024 // reported in kB
			found++
		case "Threads":
			s.Threads = int(n)
			found++
		case "voluntary_ctxt_switches":
			s.VoluntaryCtx = n
		case "nonvoluntary_ctxt_switches":
			s.InvoluntaryCtx = n
		}
	}
	if found < 2 {
		return fmt.Errorf("no VmRSS or Threads line")
	}
	return nil
}

// parseStat reads utime and stime (fields 14 and 15). The command name in field 2
// may hold spaces and parentheses, so fields are counted after its last ')'.
func parseStat(b []byte, s *Sample) error {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return fmt.Errorf("no command name")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field k is fields[k-3].
	if len(fields) < 13 {
		return fmt.Errorf("%d fields, want at least 15", len(fields)+2)
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("bad utime/stime %q %q", fields[11], fields[12])
	}
	s.UserSec = float64(utime) / ClockTicks
	s.SysSec = float64(stime) / ClockTicks
	return nil
}
