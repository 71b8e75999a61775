package reference

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/concbench/concbench/servers"
)

// ApacheWorker is the Apache reference model's name in plans, /stats and
// reports: Apache httpd 2.4's worker MPM, a thread per request (stands
// beside the thread model).
const ApacheWorker = "apache-worker"

// ApacheInstallHint is the command that installs Apache httpd here (mod_lua
// comes with it, in Debian's apache2-bin).
const ApacheInstallHint = "run scripts/install-references.sh (apt-get install apache2)"

// Where Debian installs Apache httpd. The binary is looked up on PATH first:
// /usr/sbin is often missing from a non-root user's PATH.
const (
	apacheBin    = "/usr/sbin/apache2"
	apacheModDir = "/usr/lib/apache2/modules"
)

var (
	//go:embed apache/httpd.conf.tmpl
	apacheConfText string
	//go:embed apache/handler.lua
	apacheHandlerText string

	// The handler is a template only for its {{.MaxThreads}}: the Lua code
	// has no other double braces that text/template would read.
	apacheConf    = template.Must(template.New("httpd.conf").Option("missingkey=error").Parse(apacheConfText))
	apacheHandler = template.Must(template.New("handler.lua").Option("missingkey=error").Parse(apacheHandlerText))
)

// apacheFound is what AvailableApache found, looked up once per process.
var apacheFound = sync.OnceValues(findApache)

func findApache() (string, error) {
	bin, err := exec.LookPath("apache2")
	if err != nil {
		// Debian puts it in /usr/sbin, often not on a user's PATH.
		if fi, serr := os.Stat(apacheBin); serr != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("apache2 is not installed: %s", ApacheInstallHint)
		}
		bin = apacheBin
	}
	for _, m := range []string{"mod_mpm_worker.so", "mod_lua.so", "mod_authz_core.so"} {
		if _, err := os.Stat(filepath.Join(apacheModDir, m)); err != nil {
			return "", fmt.Errorf("apache2 module %s is missing from %s: %s", m, apacheModDir, ApacheInstallHint)
		}
	}
	return bin, nil
}

// AvailableApache reports whether Apache httpd and the modules apache-worker
// loads are installed, and if not, one line saying why and how to install
// them. It is safe for concurrent use; the answer is looked up once per
// process.
func AvailableApache() (ok bool, reason string) {
	if _, err := apacheFound(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// CheckApache is AvailableApache in the form of catalog.Entry.Check: nil
// when Apache can run here, else the one-line reason. (catalog.NeedsCommand
// would miss apache2 when /usr/sbin is not on PATH, and the modules.)
func CheckApache() error {
	_, err := apacheFound()
	return err
}

// ApacheFiles is what WriteApacheConfig wrote.
type ApacheFiles struct {
	// Conf is the httpd.conf to pass to ApacheCommand.
	Conf string
	// PidFile is where Apache writes its parent's pid.
	PidFile string
	// ErrorLog and AccessLog are Apache's logs.
	ErrorLog, AccessLog string
}

// apacheParams fill the templates.
type apacheParams struct {
	Port            int
	MaxThreads      int
	MaxSpareThreads int
	GraceSec        int
	RunDir, LogDir  string
	ModDir          string
	User, Group     string
}

// WriteApacheConfig writes an Apache configuration serving the route table
// on 127.0.0.1:port with cfg.MaxThreads worker threads (default 256) and a
// graceful stop of cfg.Grace (rounded up to whole seconds, at least 1), into
// runDir, and points its logs into logDir (runDir if empty). When this
// process runs as root, Apache's child serves as nobody:nogroup, which must
// be able to read runDir (it is made 0755; its parents must let others pass,
// as os.TempDir does). Other fields of cfg are ignored.
func WriteApacheConfig(runDir, logDir string, port int, cfg servers.Config) (ApacheFiles, error) {
	cfg.Addr = "127.0.0.1:" + strconv.Itoa(port)
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return ApacheFiles{}, err
	}
	if port < 1 || port > 65535 {
		return ApacheFiles{}, fmt.Errorf("apache: port %d out of range [1, 65535]", port)
	}
	if logDir == "" {
		logDir = runDir
	}
	for _, d := range []*string{&runDir, &logDir} {
		if *d, err = filepath.Abs(*d); err != nil {
			return ApacheFiles{}, err
		}
	}
	p := apacheParams{
		Port:       port,
		MaxThreads: cfg.MaxThreads,
		// Above idle threads' largest possible count: the one child is
		// never stopped for having too many idle threads.
		MaxSpareThreads: cfg.MaxThreads + 1,
		GraceSec:        max(1, int(math.Ceil(cfg.Grace.Seconds()))),
		RunDir:          runDir,
		LogDir:          logDir,
		ModDir:          apacheModDir,
	}
	if os.Geteuid() == 0 {
		p.User, p.Group = "nobody", "nogroup"
		if _, err := user.LookupGroup("nogroup"); err != nil {
			p.Group = "nobody"
		}
		if err := os.Chmod(runDir, 0o755); err != nil {
			return ApacheFiles{}, err
		}
	}
	for _, f := range []struct {
		t    *template.Template
		name string
	}{{apacheConf, "httpd.conf"}, {apacheHandler, "handler.lua"}} {
		var b bytes.Buffer
		if err := f.t.Execute(&b, p); err != nil {
			return ApacheFiles{}, err
		}
		if err := os.WriteFile(filepath.Join(runDir, f.name), b.Bytes(), 0o644); err != nil {
			return ApacheFiles{}, err
		}
	}
	return ApacheFiles{
		Conf:      filepath.Join(runDir, "httpd.conf"),
		PidFile:   filepath.Join(runDir, "httpd.pid"),
		ErrorLog:  filepath.Join(logDir, "error.log"),
		AccessLog: filepath.Join(logDir, "access.log"),
	}, nil
}

// ApacheCommand returns the command that runs Apache in the foreground with
// conf (from WriteApacheConfig). Apache prints no listening line: a caller
// that starts it polls /healthz until it answers 200. SIGWINCH stops it
// gracefully (in-flight requests finish within the configured grace);
// SIGTERM stops it at once. It fails when Apache is not installed.
func ApacheCommand(conf string) (*exec.Cmd, error) {
	bin, err := apacheFound()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-f", conf, "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	return cmd, nil
}

// Apache is the apache-worker reference server: a servers.Server that runs
// Apache httpd as a child process, so that `concbench serve` and the tests
// drive it like a Go model. Its methods are safe for concurrent use.
type Apache struct {
	cfg    servers.Config
	logDir string
}

var _ servers.Server = (*Apache)(nil)

// ApacheOption configures an Apache.
type ApacheOption func(*Apache)

// WithLogDir keeps Apache's error.log and access.log in dir (the results
// directory of a run); by default they go into a temporary directory that
// is removed when Serve returns.
func WithLogDir(dir string) ApacheOption { return func(a *Apache) { a.logDir = dir } }

// NewApache returns an apache-worker server for cfg: Addr (port 0 picks a
// free port), Grace and MaxThreads; other fields are ignored.
func NewApache(cfg servers.Config, opts ...ApacheOption) (*Apache, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	a := &Apache{cfg: cfg}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

// Bounds of Apache's life cycle under Serve.
const (
	apacheStartTimeout = 15 * time.Second // until /healthz answers 200
	apacheKillAfter    = 5 * time.Second  // after the grace, SIGKILL
)

// Serve writes the configuration into a temporary directory, starts Apache,
// calls ready once /healthz answers 200, and serves until ctx is cancelled;
// then it stops Apache gracefully (SIGWINCH): no new connections, in-flight
// requests finish within the grace, after which Apache stops them, and
// after that plus 5 s its process group is killed.
//
// Apache cannot report a port it chose, so for port 0 Serve picks a free
// one and hands it over: another process may take it in between, and then
// Serve returns Apache's error.
func (a *Apache) Serve(ctx context.Context, ready func(net.Addr)) error {
	port, err := freePort(a.cfg.Addr)
	if err != nil {
		return err
	}
	runDir, err := os.MkdirTemp("", "concbench-apache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	files, err := WriteApacheConfig(runDir, a.logDir, port, a.cfg)
	if err != nil {
		return err
	}
	cmd, err := ApacheCommand(files.Conf)
	if err != nil {
		return err
	}
	stderr := &tail{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so that a late kill reaches the child process too.
		Setpgid: true,
		// If this process dies without stopping it, Apache stops too.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("apache: %w", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	exited := func(what string) error {
		return fmt.Errorf("apache exited %s (%v)%s", what, waitErr, logTail(stderr, files.ErrorLog))
	}

	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	if err := waitHealthy(ctx, addr.String(), done); err != nil {
		killGroup(cmd, done)
		select {
		case <-done:
			if ctx.Err() == nil {
				return exited("before /healthz answered 200")
			}
		default:
		}
		return fmt.Errorf("apache: %w%s", err, logTail(stderr, files.ErrorLog))
	}
	if ready != nil {
		ready(addr)
	}

	select {
	case <-done:
		return exited("while serving")
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGWINCH) // graceful-stop
	timer := time.NewTimer(a.cfg.Grace + time.Second + apacheKillAfter)
	defer timer.Stop()
	select {
	case <-done:
		if waitErr != nil {
			return exited("on graceful-stop")
		}
		return nil
	case <-timer.C:
		killGroup(cmd, done)
		return fmt.Errorf("apache did not stop within %s of graceful-stop; killed%s", a.cfg.Grace+time.Second+apacheKillAfter, logTail(stderr, files.ErrorLog))
	}
}

// freePort returns addr's port, or for port 0 one the kernel just gave out.
func freePort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if port, err := strconv.Atoi(p); err == nil && port != 0 {
		return port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// waitHealthy polls /healthz until it answers 200, Apache exits, ctx is
// done or apacheStartTimeout passes. Connections are not kept alive: an
// idle kept-alive connection would hold one of Apache's worker threads.
func waitHealthy(ctx context.Context, addr string, done <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(apacheStartTimeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/healthz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/healthz answered %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errors.New("exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("/healthz did not answer 200 within %s: %v", apacheStartTimeout, last)
}

// killGroup kills Apache's process group and waits for the parent.
func killGroup(cmd *exec.Cmd, done <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// logTail returns Apache's last words: its stderr (errors before its log is
// open) and the end of its error log, as a suffix for an error message.
func logTail(stderr *tail, errorLog string) string {
	s := stderr.String()
	if b, err := os.ReadFile(errorLog); err == nil {
		if len(b) > 2<<10 {
			b = b[len(b)-2<<10:]
		}
		s += string(b)
	}
	if s == "" {
		return ""
	}
	return "; its last output:\n" + s
}

// tail keeps the last max bytes written to it. It is safe for concurrent use.
type tail struct {
	mu  sync.Mutex // guards b
	b   []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
