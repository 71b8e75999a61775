package servertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/servers"
)

// The hostile-client suite runs the server under test in a process of its
// own: its memory and CPU can then be read from /proc without the client's
// mixed in, and its descriptor limit lowered without starving the client.
// For the Go models that process is the model's own test binary, started
// again with childEnv set; its TestMain hands over to ServeChild.

// childEnv holds a child server's Limits as JSON.
const childEnv = "CONCBENCH_SERVERTEST_CHILD"

// listeningPrefix starts the line a child prints once it serves.
const listeningPrefix = "listening on "

// Limits are the settings the suite starts a server with. Zero fields keep
// the server's defaults.
type Limits struct {
	HeadersTimeout   time.Duration
	RequestTimeout   time.Duration
	KeepAliveTimeout time.Duration
	// MaxThreads is passed on to the thread model.
	MaxThreads int
	// NoFile, when positive, is the soft RLIMIT_NOFILE of the server process.
	NoFile uint64
}

// Proc is a server under test running in a process of its own.
type Proc struct {
	Addr string
	// PID is the server's process; its descendants (a cluster's children)
	// count as part of it.
	PID int
}

// LaunchFunc starts a server with limits l for the rest of the test t and
// returns where it serves; a cleanup stops it. The reference servers (Node,
// Apache) can be given their own.
type LaunchFunc func(t *testing.T, l Limits) Proc

// ServeChild is for a model test's TestMain: when this process was started
// by Launch, it serves the model built by newServer with the given limits on
// 127.0.0.1:0 until SIGTERM, then exits the process; otherwise it returns at
// once.
func ServeChild(newServer NewFunc) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	if err := serveChild(raw, newServer); err != nil {
		fmt.Fprintln(os.Stderr, "servertest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveChild(raw string, newServer NewFunc) error {
	var l Limits
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return fmt.Errorf("bad %s: %w", childEnv, err)
	}
	if l.NoFile > 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		lim.Cur = min(l.NoFile, lim.Max)
		// Children (a cluster's) inherit it: syscall.Setrlimit also stops
		// os/exec from restoring the limit Go started with.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
	}
	srv, err := newServer(servers.Config{Settings: launch.Settings{
		Addr: "127.0.0.1:0", Grace: 2 * time.Second, Tuning: launch.Tuning{MaxThreads: l.MaxThreads},
		Timeouts: launch.Timeouts{HeadersTimeout: l.HeadersTimeout, RequestTimeout: l.RequestTimeout, KeepAliveTimeout: l.KeepAliveTimeout},
	}})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return srv.Serve(ctx, func(a net.Addr) {
		fmt.Printf("%s%s\n", listeningPrefix, a)
	})
}

// Launch is the LaunchFunc of the Go models: it starts this test binary
// again as a server (see ServeChild).
func Launch(t *testing.T, l Limits) Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(l)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server process: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(Timeout):
			t.Errorf("server process %d did not stop within %s of SIGTERM; killed", cmd.Process.Pid, Timeout)
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, out) // never block the child on stdout
	}()
	select {
	case s := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(s), listeningPrefix)
		if !ok {
			t.Fatalf("server process printed %q; want %q", s, listeningPrefix+"ADDR")
		}
		return Proc{Addr: addr, PID: cmd.Process.Pid}
	case <-done:
		t.Fatal("server process exited before it served")
	case <-time.After(Timeout):
		t.Fatalf("server process not serving after %s", Timeout)
	}
	return Proc{}
}

// usage is the resources of a process and its descendants.
type usage struct {
	rss   int64
	cpu   float64 // seconds, user + system
	procs int
}

// treeUsage sums the figures of pid and every process below it.
func treeUsage(pid int) (usage, error) {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // gone meanwhile
		}
		// The command name may hold spaces; the fields after ')' don't.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		pp, _ := strconv.Atoi(f[1])
		parent[p] = pp
	}
	var u usage
	for p := range parent {
		q := p
		for q != pid && q > 1 {
			q = parent[q]
		}
		if q != pid {
			continue
		}
		s, err := procstat.Read(p)
		if err != nil {
			if p == pid {
				return u, err
			}
			continue
		}
		u.rss += s.RSSBytes
		u.cpu += s.UserSec + s.SysSec
		u.procs++
	}
	if u.procs == 0 {
		return u, fmt.Errorf("process %d not found", pid)
	}
	return u, nil
}
