// Package cluster is the Node.js cluster model: a supervisor process starts N
// child processes of the same binary, each an eventloop server. The
// supervisor restarts a child that dies (with backoff), forwards SIGTERM, and
// answers /stats for the whole cluster.
//
// Connections reach the children one of two ways (launch.Tuning.Balance):
//   - rr (the default, like Node's cluster module on Linux): the supervisor
//     listens, accepts, and hands each connection to a child over a Unix
//     socket; a child gets the next one only once its loop has taken the
//     last, so a blocked child holds back one connection (see handoff.go).
//   - reuseport: every child listens on the port with SO_REUSEPORT and the
//     kernel spreads connections by a hash of the client's address, blocked
//     child or not.
//
// The supervisor serves no HTTP itself: every request lands on some child. A
// child answers /stats by asking the supervisor, over a private Unix socket, for
// the cluster's figures, which the supervisor collects from every child's own
// Unix socket. Each child also serves net/http/pprof on its socket, and the
// supervisor's --pprof-addr proxies /child/I/debug/pprof/... to child I.
package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
)

// ChildEnv is the environment variable that makes a process of this binary a
// cluster child; its value is the child's JSON configuration. Like fasthttp's
// prefork, a child is the same binary started with this variable set, so the
// program's main (and a test binary's TestMain) must call ChildMain when
// IsChild reports true.
const ChildEnv = "CONCBENCH_CLUSTER_CHILD"

// Restart backoff: a child that dies is started again after a delay that
// doubles from minBackoff to maxBackoff, and resets once a child has lived
// stableAfter.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	stableAfter = 10 * time.Second
)

// Server is the cluster supervisor.
type Server struct {
	cfg servers.Config
	// exe and args start a child; they default to this very binary.
	exe  string
	args []string

	mu       sync.Mutex // guards children and restarts
	children []*child
	restarts int
	// dir prefixes the Unix sockets' names. They are abstract sockets (a
	// leading '@'): the kernel removes them with their last descriptor, so
	// a supervisor killed with SIGKILL leaves no directory behind.
	dir string
	bal *balancer // the rr balance's accepting side; nil with reuseport
}

var _ servers.Server = (*Server)(nil)

type child struct {
	index  int
	socket string
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has been waited for
	err    error         // cmd.Wait's result, once done
}

// New returns a supervisor of cfg.Procs eventloop children.
func New(cfg servers.Config) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cluster: cannot find this binary to start children: %w", err)
	}
	return &Server{cfg: cfg, exe: exe}, nil
}

// childConfig is passed to each child in ChildEnv.
type childConfig struct {
	Index      int           `json:"index"`
	Addr       string        `json:"addr"`
	Socket     string        `json:"socket"`
	Supervisor string        `json:"supervisor"`
	Grace      time.Duration `json:"grace"`
	// The limits and timeouts of issue 12.
	HeadersTimeout   time.Duration `json:"headers_timeout"`
	RequestTimeout   time.Duration `json:"request_timeout"`
	KeepAliveTimeout time.Duration `json:"keepalive_timeout"`
	// Balance is launch.BalanceRR (connections come over descriptor linkFD)
	// or launch.BalanceReusePort (the child listens on Addr).
	Balance string `json:"balance"`
}

// Serve starts the children and supervises them until ctx is done.
func (s *Server) Serve(ctx context.Context, ready func(net.Addr)) error {
	var addr *net.TCPAddr
	if s.cfg.Balance == launch.BalanceRR {
		// A plain listener: a port someone holds fails here, as it would for Node's primary.
		bal, err := listenRR(s.cfg.Addr, s.cfg.Log)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		defer bal.close()
		s.bal, addr = bal, bal.addr()
		// Connections wait in the supervisor until a child says it serves.
		go bal.accept()
	} else {
		// SO_REUSEPORT would let this cluster join another one already on a
		// fixed port and silently split its traffic: make sure nobody is there.
		if ta, err := net.ResolveTCPAddr("tcp", s.cfg.Addr); err == nil && ta.Port != 0 {
			ln, err := net.Listen("tcp", s.cfg.Addr)
			if err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			_ = ln.Close()
		}
		a, release, err := reservePort(s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		defer release()
		addr = a
	}
	s.dir = "@concbench-cluster-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	// The supervisor's control socket: children ask it for the cluster's /stats.
	ctl, err := net.Listen("unix", filepath.Join(s.dir, "supervisor.sock"))
	if err != nil {
		return fmt.Errorf("cluster: control socket: %w", err)
	}
	ctlSrv := &http.Server{Handler: http.HandlerFunc(s.serveStats), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ctlSrv.Serve(ctl) }()
	defer ctlSrv.Close()

	if s.cfg.PprofAddr != "" {
		pctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a, err := servers.ServePprof(pctx, s.cfg.PprofAddr, s.pprofHandler())
		if err != nil {
			return fmt.Errorf("cluster: pprof: %w", err)
		}
		s.cfg.PprofServing(a, "children", "/child/I/debug/pprof/")
	}

	s.children = make([]*child, s.cfg.Procs)
	for i := range s.children {
		c, err := s.start(i, addr.String())
		if err != nil {
			s.stopAll()
			return err
		}
		s.children[i] = c
	}
	if err := s.waitReady(ctx); err != nil {
		s.stopAll()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if ready != nil {
		ready(addr)
	}
	s.cfg.Log.Info("cluster up", "addr", addr, "procs", s.cfg.Procs, "balance", s.cfg.Balance)

	var wg sync.WaitGroup
	for i := range s.children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.supervise(ctx, i, addr.String())
		}()
	}
	<-ctx.Done()
	if s.bal != nil {
		s.bal.close() // stop taking connections before the children drain
	}
	s.stopAll()
	wg.Wait()
	return nil
}

// start launches child i.
func (s *Server) start(i int, addr string) (*child, error) {
	sock := filepath.Join(s.dir, "child-"+strconv.Itoa(i)+".sock")
	_ = os.Remove(sock)
	cc, _ := json.Marshal(childConfig{Index: i, Addr: addr, Socket: sock,
		Supervisor: filepath.Join(s.dir, "supervisor.sock"), Grace: s.cfg.Grace, Balance: s.cfg.Balance,
		HeadersTimeout: s.cfg.HeadersTimeout, RequestTimeout: s.cfg.RequestTimeout, KeepAliveTimeout: s.cfg.KeepAliveTimeout})
	cmd := exec.Command(s.exe, s.args...)
	var l *link
	if s.bal != nil {
		var theirs *os.File
		var err error
		if l, theirs, err = s.bal.newLink(i); err != nil {
			return nil, err
		}
		defer theirs.Close()                // the child has its own copy once started
		cmd.ExtraFiles = []*os.File{theirs} // linkFD in the child
	}
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(cc))
	cmd.Stdout = os.Stderr // a child's output is diagnostics, never the listening line
	cmd.Stderr = os.Stderr
	// A child must not outlive a supervisor that was killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if l != nil {
			_ = l.conn.Close()
		}
		return nil, fmt.Errorf("cluster: start child %d: %w", i, err)
	}
	if l != nil {
		go s.bal.watch(l)
	}
	c := &child{index: i, socket: sock, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// waitReady waits until every child answers on its socket.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range s.snapshotChildren() {
		for {
			if _, err := fetchStats(ctx, c.socket); err == nil {
				break
			}
			select {
			case <-c.done:
				return fmt.Errorf("cluster: child %d exited while starting: %v", c.index, c.err)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster: child %d not ready after 15s", c.index)
			}
		}
	}
	return nil
}

// supervise restarts child i whenever it dies, until ctx is done.
func (s *Server) supervise(ctx context.Context, i int, addr string) {
	backoff := minBackoff
	for {
		c := s.childAt(i)
		started := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-c.done:
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > stableAfter {
			backoff = minBackoff
		}
		s.cfg.Log.Warn("cluster child died; restarting", "child", i, "err", c.err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		nc, err := s.start(i, addr)
		if err != nil {
			s.cfg.Log.Error("cluster child restart failed", "child", i, "err", err)
			continue // c.done stays closed: the loop waits the next backoff and tries again
		}
		s.mu.Lock()
		s.children[i] = nc
		s.restarts++
		s.mu.Unlock()
	}
}

// stopAll forwards SIGTERM to every child, waits for them to drain for the
// grace period (plus a margin), then kills what is left.
func (s *Server) stopAll() {
	children := s.snapshotChildren()
	for _, c := range children {
		if c != nil {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(s.cfg.Grace + 2*time.Second)
	for _, c := range children {
		if c == nil {
			continue
		}
		select {
		case <-c.done:
		case <-deadline:
			for _, k := range children {
				if k != nil {
					_ = k.cmd.Process.Kill()
				}
			}
			<-c.done
		}
	}
}

func (s *Server) childAt(i int) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.children[i]
}

func (s *Server) snapshotChildren() []*child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*child(nil), s.children...)
}

// serveStats answers the control socket's /stats: the cluster's figures.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	snap := s.Snapshot(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(snap)
}

// Snapshot collects every child's figures and adds them up. The supervisor's
// own pid comes first in PIDs, so a sampler of /proc counts it too.
func (s *Server) Snapshot(ctx context.Context) stats.Snapshot {
	children := s.snapshotChildren()
	s.mu.Lock()
	restarts := s.restarts
	s.mu.Unlock()
	procs := make([]stats.Snapshot, len(children))
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if snap, err := fetchStats(ctx, c.socket); err == nil {
				procs[i] = snap
			} else {
				procs[i] = stats.Snapshot{Model: "eventloop"} // a child between restarts
			}
		}()
	}
	wg.Wait()
	return Aggregate(os.Getpid(), procs, restarts)
}

// Aggregate sums the children's snapshots into the cluster's. Loop delay
// histograms and runtime figures are merged exactly.
func Aggregate(supervisorPID int, procs []stats.Snapshot, restarts int) stats.Snapshot {
	agg := stats.Snapshot{
		Model:     "cluster",
		PIDs:      []int{supervisorPID},
		Completed: map[string]uint64{},
		Responses: map[string]uint64{},
		Procs:     procs,
		Restarts:  restarts,
	}
	if rss, threads, err := procstat.ReadSelf(); err == nil {
		agg.RSSBytes, agg.OSThreads, agg.PeakOSThr = rss, threads, threads
	}
	delay := servers.NewHistogram()
	var rt stats.RuntimeStats
	var sched, pauses []stats.RuntimeHist
	for _, p := range procs {
		agg.PIDs = append(agg.PIDs, p.PIDs...)
		agg.UptimeSec = max(agg.UptimeSec, p.UptimeSec)
		agg.InFlight += p.InFlight
		for k, v := range p.Completed {
			agg.Completed[k] += v
		}
		for k, v := range p.Responses {
			agg.Responses[k] += v
		}
		agg.OSThreads += p.OSThreads
		agg.PeakOSThr += p.PeakOSThr
		agg.Goroutines += p.Goroutines
		agg.RSSBytes += p.RSSBytes
		agg.GOMAXPROCS = max(agg.GOMAXPROCS, p.GOMAXPROCS)
		agg.GOMAXPROCSReason = cmp.Or(agg.GOMAXPROCSReason, p.GOMAXPROCSReason)
		if p.LoopDelay != nil {
			if h, err := p.LoopDelay.Decode(); err == nil {
				delay.Merge(h)
			}
		}
		if p.Runtime != nil {
			sched, pauses = append(sched, p.Runtime.SchedLatency), append(pauses, p.Runtime.GCPauses)
			rt.GCCycles += p.Runtime.GCCycles
		}
	}
	sum := delay.Summary()
	agg.LoopDelay = &sum
	rt.SchedLatency, rt.GCPauses = stats.MergeRuntimeHists(sched...), stats.MergeRuntimeHists(pauses...)
	agg.Runtime = &rt
	return agg
}

// fetchStats asks a child (or the supervisor) for /stats over its Unix socket.
func fetchStats(ctx context.Context, socket string) (stats.Snapshot, error) {
	var snap stats.Snapshot
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://unix/stats", nil)
	resp, err := unixClient(socket).Do(req)
	if err != nil {
		return snap, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return snap, fmt.Errorf("stats: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	return snap, err
}

func unixClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}

// pprofHandler serves the supervisor's own profiles and proxies
// /child/I/debug/pprof/... to child I.
func (s *Server) pprofHandler() http.Handler {
	mux := servers.PprofMux()
	mux.HandleFunc("/child/", func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/child/")
		idx, path, _ := strings.Cut(rest, "/")
		i, err := strconv.Atoi(idx)
		children := s.snapshotChildren()
		if err != nil || i < 0 || i >= len(children) || children[i] == nil {
			http.Error(w, "no such child: "+idx, http.StatusNotFound)
			return
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL = &url.URL{Scheme: "http", Host: "unix", Path: "/" + path, RawQuery: r.URL.RawQuery}
			},
			Transport: unixClient(children[i].socket).Transport,
		}
		proxy.ServeHTTP(w, r)
	})
	return mux
}

// reservePort resolves addr's port (choosing a free one for port 0) by binding,
// without listening, a socket with SO_REUSEPORT. Holding it keeps the port ours
// while children come and go; since it never listens, the kernel never hands it
// a connection.
func reservePort(addr string) (*net.TCPAddr, func(), error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa = &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: ta.Port, Addr: [16]byte(ta.IP.To16())}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		ta.Port = b.Port
	case *unix.SockaddrInet6:
		ta.Port = b.Port
	}
	return ta, func() { unix.Close(fd) }, nil
}

var errNotChild = errors.New("cluster: not a cluster child (" + ChildEnv + " unset)")
