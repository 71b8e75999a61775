package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTimes are one CPU's cumulative times from /proc/stat, in clock ticks
// (USER_HZ). Steal is the time a hypervisor ran something else while this
// virtual CPU had work: on a VM it is how much of a CPU the host took away,
// which no process inside the VM can see in its own CPU time.
type CPUTimes struct {
	Total int64 // every column: user … steal
	Steal int64
}

// ReadCPUTimes reads /proc/stat's per-CPU lines ("cpu0 …"), by CPU number.
func ReadCPUTimes() (map[int]CPUTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseCPUTimes(b)
}

func parseCPUTimes(b []byte) (map[int]CPUTimes, error) {
	out := map[int]CPUTimes{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			return nil, fmt.Errorf("/proc/stat: %q: %w", f[0], err)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice:
		// guest time is already counted in user (and guest_nice in nice).
		var t CPUTimes
		for i, s := range f[1:min(len(f), 9)] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/stat: %s: %w", f[0], err)
			}
			t.Total += v
			if i == 7 {
				t.Steal = v
			}
		}
		out[n] = t
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/stat: no per-CPU line")
	}
	return out, sc.Err()
}

// StealShare is the share of the time between two readings that the host
// stole from cpus (0–1; 0 without a tick in between): steal ticks over all
// ticks, summed over those CPUs.
func StealShare(from, to map[int]CPUTimes, cpus []int) float64 {
	var steal, total int64
	for _, c := range cpus {
		a, okA := from[c]
		b, okB := to[c]
		if !okA || !okB {
			continue
		}
		steal += b.Steal - a.Steal
		total += b.Total - a.Total
	}
	if total <= 0 || steal < 0 {
		return 0
	}
	return float64(steal) / float64(total)
}
