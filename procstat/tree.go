package procstat

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Tree returns pid and its descendants, at most 1024 processes, from the
// parent pid of every process in /proc (/proc/N/stat). Its cost grows with
// the processes on the machine, not with the server's threads: the
// per-thread /proc/PID/task/TID/children files, read every 250 ms for a
// 1,100-thread server, took half of the load generator's CPU (the sampler
// runs in its process) and stalled it for milliseconds.
func Tree(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for i, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		if i%32 == 31 {
			runtime.Gosched() // the generator's goroutines share this P
		}
		if pp, ok := parentOf(n); ok {
			children[pp] = append(children[pp], n)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out) && len(out) < 1024; i++ {
		out = append(out, children[out[i]]...)
	}
	return out[:min(len(out), 1024)]
}

// parentOf reads the parent pid of process pid from /proc/PID/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false // exited since the listing
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(string(f[1]))
	return pp, err == nil
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
// two readings take their counts with them, so a difference is a floor. It
// reads one file per thread, yielding the CPU to other goroutines every 32:
// callers sample it less often for a process with many threads.
func CtxSwitches(pid int) (vol, invol int64) {
	return CtxSwitchesByTask(pid, nil)
}

// CtxSwitchesByTask is CtxSwitches that also records each thread's switches
// (voluntary and not) in byTask, by thread id, when byTask is not nil: a
// thread whose count rose between two readings ran between them.
func CtxSwitchesByTask(pid int, byTask map[int]int64) (vol, invol int64) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for i, t := range tasks {
		if i%32 == 31 {
			runtime.Gosched()
		}
		b, err := os.ReadFile(dir + t.Name() + "/status")
		if err != nil {
			continue
		}
		var both int64
		for line := range bytes.Lines(b) {
			k, v, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				continue
			}
			switch string(k) {
			case "voluntary_ctxt_switches":
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				vol += n
				both += n
			case "nonvoluntary_ctxt_switches":
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				invol += n
				both += n
			}
		}
		if tid, err := strconv.Atoi(t.Name()); err == nil && byTask != nil {
			byTask[tid] = both
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
