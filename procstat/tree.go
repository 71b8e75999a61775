package procstat

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Tree returns pid and its descendants, read from /proc/PID/task/TID/children,
// at most 1024 processes.
func Tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out) && len(out) < 1024; i++ {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(out[i]) + "/task")
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(out[i]) + "/task/" + t.Name() + "/children")
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Alive reports whether pid is a running (not zombie) process.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// CtxSwitches sums the context switches of every live thread of pid:
// /proc/PID/status only counts the main thread's. Threads that exited between
// two readings take their counts with them, so a difference is a floor.
func CtxSwitches(pid int) (vol, invol int64) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + t.Name() + "/status")
		if err != nil {
			continue
		}
		for line := range bytes.Lines(b) {
			k, v, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				continue
			}
			switch string(k) {
			case "voluntary_ctxt_switches":
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				vol += n
			case "nonvoluntary_ctxt_switches":
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				invol += n
			}
		}
	}
	return vol, invol
}

// TCP states of /proc/net/tcp.
const tcpTimeWait = "06"

// Sockets counts the TCP sockets with port at either end, apart from TIME_WAIT
// ones, and all TIME_WAIT sockets on the machine (port 0: only those), from
// /proc/net/tcp and /proc/net/tcp6.
func Sockets(port int) (open, timeWait int) {
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
