package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// PSS returns process pid's proportional set size in bytes, from
// /proc/PID/smaps_rollup (Linux 4.14+): its resident pages, each shared page
// divided by the number of processes mapping it. Summed over a process tree
// it counts shared pages once, where summed RSS counts them in every process
// (a cluster's children share the binary's text and the parent's
// copy-on-write pages). Reading it walks the process's page tables: it costs
// more than Read, and is meant for the sampler's rate, not a hot path.
func PSS(pid int) (int64, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	b, err := os.ReadFile(dir + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	return parsePSS(b)
}

func parsePSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		val, ok := bytes.CutPrefix(line, []byte("Pss:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(val)
		if len(fields) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("smaps_rollup: bad Pss %q", fields[0])
		}
		return n * 1024, nil // reported in kB
	}
	return 0, fmt.Errorf("smaps_rollup: no Pss line")
}
