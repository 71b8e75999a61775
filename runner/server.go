package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/stats"
)

// Bounds of a server's life cycle.
const (
	startTimeout  = 15 * time.Second // until the listening line
	healthTimeout = 10 * time.Second // until /healthz answers 200
	// serverGrace is passed to `serve --grace`: by the time a cell stops its
	// server the generator has had every answer or given up, so in-flight work
	// is only what timed out.
	serverGrace = 3 * time.Second
	// killAfter is how long after SIGTERM the whole process group is killed.
	killAfter = serverGrace + 5*time.Second
)

// server is one cell's server: a child process the runner started (a
// `concbench serve`, a reference system, a user server), or a running server
// it attached to (attach: no process of its own, pid sampled when known). Its
// methods are not safe for concurrent use, except exited.
type server struct {
	spec launchSpec
	cmd  *exec.Cmd  // nil when attached
	pid  int        // 0: unknown (attached without --target-pid)
	cpus cpuset.Set // the CPUs it was started on (nil when attached)
	addr string     // host:port it listens on
	// pprofAddr is where it serves net/http/pprof, when it announced it
	// (launch.PprofPrefix) before its listening line.
	pprofAddr string
	stderr    *tailBuffer
	client    *http.Client // for health and /stats: its own small pool

	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
}

// startServer starts the server spec says in its own process group (so a
// terminal's Ctrl-C reaches only the orchestrator, which stops the server
// itself) pinned to cpus, learns its address (its announce line, or spec.addr)
// and waits until spec.health answers 200. Attached to a running server, it
// only checks the address and the health. When the server failed to start,
// the error says why and the stopped server is returned too, if a process
// ran, for its stderr.
func startServer(ctx context.Context, spec launchSpec, cpus cpuset.Set, allowRemote bool) (*server, error) {
	s := &server{spec: spec, pid: spec.pid, addr: spec.addr, stderr: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	fail := func(err error) (*server, error) {
		_ = s.stop()
		if s.cmd == nil {
			return nil, err
		}
		return s, err
	}
	if !spec.attach {
		if err := s.start(ctx, cpus); err != nil {
			return fail(err)
		}
	}
	if err := checkTarget(s.addr, allowRemote); err != nil {
		return fail(err)
	}
	if s.pprofAddr != "" && launch.CheckLoopback(s.pprofAddr) != nil {
		s.pprofAddr = "" // never fetched from: profiling notes its absence
	}
	s.client = &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true},
	}
	if err := s.waitHealthy(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// start starts the process and, when its address was not chosen before,
// reads it from the announce line.
func (s *server) start(ctx context.Context, cpus cpuset.Set) error {
	spec := s.spec
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Dir = spec.dir
	if len(spec.env) > 0 {
		cmd.Env = append(os.Environ(), spec.env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the orchestrator dies without stopping it, the server stops too.
		Pdeathsig: syscall.SIGTERM,
	}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cpuset.StartOn(cmd, cpus); err != nil {
		return fmt.Errorf("start %s: %w", spec.argv[0], err)
	}
	s.cmd, s.pid, s.cpus = cmd, cmd.Process.Pid, cpus
	addrc := make(chan launch.Announced, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var a launch.Announced
		for sc.Scan() {
			if s.addr == "" && a.Scan(sc.Text()) {
				addrc <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // keep the pipe drained
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if s.addr != "" { // chosen before the start: health tells when it is up
		return nil
	}
	timer := time.NewTimer(spec.startTimeout)
	defer timer.Stop()
	select {
	case a := <-addrc:
		s.addr, s.pprofAddr = a.Addr, a.PprofAddr
		return nil
	case <-s.done:
		return fmt.Errorf("server exited before listening (%v)%s", s.waitErr, s.stderr.suffix())
	case <-timer.C:
		return fmt.Errorf("server printed no %q line within %s%s", launch.ListeningPrefix+"ADDR", spec.startTimeout, s.stderr.suffix())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkTarget refuses a non-loopback address unless allowed explicitly.
func checkTarget(addr string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	if err := launch.CheckLoopback(addr); err != nil {
		return fmt.Errorf("target %s: %w (pass --allow-remote to allow it)", addr, err)
	}
	return nil
}

func (s *server) waitHealthy(ctx context.Context) error {
	timeout := s.spec.startTimeout
	if timeout <= 0 {
		timeout = healthTimeout
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url(s.spec.health), nil)
		resp, err := s.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// An attached target only has to answer: its root need not be a route.
			if resp.StatusCode == http.StatusOK || s.spec.attach {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("server exited before %s answered (%v)%s", s.spec.health, s.waitErr, s.stderr.suffix())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s.spec.attach {
		return fmt.Errorf("target %s: %v", s.url(s.spec.health), last)
	}
	return fmt.Errorf("%s did not answer 200 within %s: %v%s", s.spec.health, timeout, last, s.stderr.suffix())
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// stats reads /stats.
func (s *server) stats(ctx context.Context) (*stats.Snapshot, error) {
	if !s.spec.stats {
		return nil, errNoStats
	}
	req, err := http.NewRequestWithContext(ctx, "GET", s.url("/stats"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/stats: %s", resp.Status)
	}
	var snap stats.Snapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&snap); err != nil {
		return nil, fmt.Errorf("/stats: %w", err)
	}
	return &snap, nil
}

// errNoStats: the server serves no /stats in concbench's schema.
var errNoStats = errors.New("the server serves no concbench /stats")

// exited reports whether the process has exited (attached: whether the
// known pid is gone).
func (s *server) exited() bool {
	if s.cmd == nil {
		return s.pid > 0 && !procstat.Alive(s.pid)
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (a graceful stop), kills the whole process group after
// killAfter, waits for the process, and kills whatever is left of its group
// (e.g. cluster children of a supervisor that died). It returns how the stop
// went: nil for a clean exit after SIGTERM.
func (s *server) stop() error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	if s.spec.cleanup != nil {
		defer s.spec.cleanup()
	}
	if s.cmd == nil { // attached, or never started: nothing of ours runs
		return nil
	}
	var err error
	if !s.exited() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(killAfter)
		select {
		case <-s.done:
			t.Stop()
			if s.waitErr != nil {
				err = fmt.Errorf("server exited with %v after SIGTERM%s", s.waitErr, s.stderr.suffix())
			}
		case <-t.C:
			_ = syscall.Kill(-s.pid, syscall.SIGKILL)
			<-s.done
			err = fmt.Errorf("server did not stop within %s of SIGTERM; killed", killAfter)
		}
	}
	// Leftovers of the group: nothing should be there after a clean stop.
	if e := syscall.Kill(-s.pid, syscall.SIGKILL); e == nil && err == nil {
		err = errors.New("processes of the server's group outlived it; killed")
	}
	return err
}

// port returns the port the server listens on.
func (s *server) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// tailBuffer keeps the last max bytes written to it. It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex // guards buf
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// suffix is the last stderr line, as "; stderr: LINE", or "".
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(t.String())
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "; stderr: " + s
}
