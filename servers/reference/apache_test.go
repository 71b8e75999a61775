package reference

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/workloads"
)

// startApache serves apache-worker with cfg on a free loopback port for the
// test, its logs in a temporary directory, and stops it in a cleanup
// (servertest.Start fails the test unless Serve returns nil in time). It
// skips the test when Apache is not installed.
func startApache(t *testing.T, cfg servers.Config) string {
	t.Helper()
	if ok, reason := AvailableApache(); !ok {
		t.Skip(reason)
	}
	cfg.Addr = "127.0.0.1:0"
	a, err := NewApache(cfg, WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, a)
}

// config returns a configuration with maxThreads and grace (0: defaults)
// on 127.0.0.1:0.
func config(maxThreads int, grace time.Duration) servers.Config {
	return servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: grace, Tuning: launch.Tuning{MaxThreads: maxThreads}}}
}

// apacheDeviations are the conformance checks Apache answers differently,
// each with the reason (README, "Where Apache answers differently", lists them with both answers).
var apacheDeviations = map[string]string{
	"regex/re2":               "Apache has no RE2: answered 501",
	"regex/backtrack bounded": "PCRE2 bounds a match by steps (its match limit), not by time: timeout_ms is answered 501",
	"regex/timeout":           "PCRE2 bounds a match by steps (its match limit), not by time: timeout_ms is answered 501",
	servertest.CheckRuntime:   "Apache is not a Go program: /stats has no runtime section",
	servertest.CheckServerHeader: "Apache names itself (Server: Apache, with ServerTokens Prod); " +
		"a module cannot replace the header outside a proxy",
	servertest.CheckKeepAliveAfterError: "Apache closes the connection after a 400, 501 or 503 answer " +
		"(ap_status_drops_connection), whoever set the status",
}

// apacheMalformedDeviations are the Malformed subtests Apache answers
// differently.
var apacheMalformedDeviations = map[string]string{
	"header-64k": "Apache answers a header field over LimitRequestFieldSize (8190) with 400, not 431",
}

func TestApacheConformance(t *testing.T) {
	addr := startApache(t, servers.Config{})
	t.Run("conformance", func(t *testing.T) {
		servertest.ConformanceExcept(t, addr, ApacheWorker, apacheDeviations)
	})
	t.Run("wire", func(t *testing.T) { servertest.Wire(t, addr) })
	t.Run("malformed", func(t *testing.T) { servertest.MalformedExcept(t, addr, apacheMalformedDeviations) })
}

// TestApacheHash checks the Lua SHA-256 chain against Go's on iteration
// counts around the block and digest boundaries.
func TestApacheHash(t *testing.T) {
	addr := startApache(t, servers.Config{})
	for _, iters := range []int{1, 2, 3, 64, 1000, 4097} {
		status, body, _ := servertest.Get(t, addr, "/cpu?iters="+strconv.Itoa(iters))
		if want := workloads.Hash(iters) + "\n"; status != 200 || body != want {
			t.Errorf("GET /cpu?iters=%d = %d %q; want 200 %q", iters, status, body, want)
		}
	}
}

// TestApacheShutdown: graceful-stop (SIGWINCH) lets an in-flight request
// finish, Serve returns nil and the port is closed.
func TestApacheShutdown(t *testing.T) {
	if ok, reason := AvailableApache(); !ok {
		t.Skip(reason)
	}
	a, err := NewApache(config(0, 5*time.Second), WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	servertest.Shutdown(t, a)
}

// TestApacheDeviations pins the answers README ("Where Apache answers differently") lists where Apache
// differs from the Go models, so that the list stays true.
func TestApacheDeviations(t *testing.T) {
	addr := startApache(t, servers.Config{})
	for _, tt := range []struct {
		target string
		status int
		body   string
	}{
		{"/regex?n=10&engine=re2", 501, "regex: engine re2 is not available in apache-worker (Apache matches with PCRE2 only)\n"},
		{"/regex?n=40&engine=backtrack&timeout_ms=50", 501, "regex: timeout_ms is not available in apache-worker (PCRE2 bounds a match by steps, not time)\n"},
		// Past PCRE2's match limit (from about n=22) the match gives up and
		// ap_expr answers no match; mod_lua's r:regex would crash the child.
		{"/regex?n=26&engine=backtrack", 200, "no match\n"},
		{"/regex?n=3&engine=backtrack", 200, "no match\n"},
	} {
		status, body, h := servertest.Get(t, addr, tt.target)
		if status != tt.status || body != tt.body {
			t.Errorf("GET %s = %d %q; want %d %q", tt.target, status, body, tt.status, tt.body)
		}
		if got := h.Get("Server"); got != "Apache" {
			t.Errorf("GET %s: Server = %q; want %q", tt.target, got, "Apache")
		}
	}

	// A match that stops at the match limit must not cost the child process.
	before := servertest.Stats(t, addr)
	servertest.Get(t, addr, "/regex?n=24&engine=backtrack")
	if after := servertest.Stats(t, addr); !slices.Equal(after.PIDs, before.PIDs) {
		t.Errorf("/stats pids went from %v to %v across a /regex at the match limit; want the same processes", before.PIDs, after.PIDs)
	}

	// An error answer closes a kept-alive connection.
	conn, br := servertest.Dial(t, addr)
	if _, err := io.WriteString(conn, servertest.Request("GET", "/io")); err != nil {
		t.Fatal(err)
	}
	resp, _, err := servertest.ReadResponse(br)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || !resp.Close {
		t.Errorf("GET /io on a kept-alive connection = %d, close %v; want 400, close true", resp.StatusCode, resp.Close)
	}
}

// completion runs GET target on a connection dialed now, and sends the
// target on done once it is answered 200 (or the error). The request asks
// for the connection to be closed: under the worker MPM an idle kept-alive
// connection would go on holding its thread for KeepAliveTimeout.
func completion(t *testing.T, addr, target string, done chan<- string) {
	t.Helper()
	conn, br := servertest.Dial(t, addr)
	if _, err := io.WriteString(conn, servertest.Request("GET", target, "Connection: close")); err != nil {
		t.Fatal(err)
	}
	go func() {
		resp, body, err := servertest.ReadResponse(br)
		// Closing at once frees the thread: Apache holds it in a lingering
		// close for up to 2 s until the client closes its end.
		_ = conn.Close()
		switch {
		case err != nil:
			done <- target + ": " + err.Error()
		case resp.StatusCode != 200:
			done <- fmt.Sprintf("%s: %d %q", target, resp.StatusCode, body)
		default:
			done <- target
		}
	}()
}

// TestApacheThreadCap: with MaxThreads 2, two long requests hold both worker
// threads and a third, cheap one waits in the listen backlog until one of
// them is done. The connections are dialed in order, and Apache's listener
// accepts them in that order, only when a worker thread is idle.
func TestApacheThreadCap(t *testing.T) {
	addr := startApache(t, config(2, 0))
	done := make(chan string, 3)
	completion(t, addr, "/io?ms=1000", done)
	completion(t, addr, "/io?ms=1000&mode=block", done)
	completion(t, addr, "/plain", done)
	var order []string
	for range 3 {
		order = append(order, <-done)
	}
	// The two long requests end together, so /plain may come between them;
	// it must not come first.
	if order[0] == "/plain" || !slices.Contains(order, "/plain") {
		t.Errorf("completion order %q; want /plain answered after a long request: both worker threads were busy when it came", order)
	}
}

// TestApacheKernelScheduled: a long /cpu holds one worker thread while
// another answers /plain at once; the kernel, not a runtime, shares the CPU
// between them.
func TestApacheKernelScheduled(t *testing.T) {
	addr := startApache(t, config(4, 0))
	done := make(chan string, 2)
	completion(t, addr, "/cpu?iters=20000", done)
	servertest.WaitInFlight(t, addr, 1)
	completion(t, addr, "/plain", done)
	first, second := <-done, <-done
	if first != "/plain" || second != "/cpu?iters=20000" {
		t.Errorf("completion order [%q %q]; want /plain answered while the hash runs", first, second)
	}
}

// TestApacheSameAnswers sends requests the conformance table has no case
// for (escapes, "+", odd bytes, bounds, every refusal) to apache-worker and to
// the goroutine model, and wants the same status and body from both: the Lua
// parser must agree with workloads.Parse.
func TestApacheSameAnswers(t *testing.T) {
	addr := startApache(t, servers.Config{})
	oracle, err := goroutine.New(servers.Config{})
	if err != nil {
		t.Fatal(err)
	}
	goAddr := servertest.Start(t, oracle)
	for _, target := range []string{
		"/io?ms=%31%30", "/io?ms=1%2B", "/io?ms=+1", "/io?ms=1&mode=%62lock", "/io?ms=2&&&", "/io?&ms=2",
		"/io?ms=", "/io?ms", "/io?ms=00000000001", "/io?ms=0000000001", "/io?ms=-1", "/io?ms=1e3",
		"/io?ms=1&mode=", "/io?ms=1&mode=BLOCK", "/io?ms=1&x", "/io?=1", "/io?ms=1&ms",
		"/io?ms=%", "/io?ms=%4", "/io?ms=%g1", "/io?m%s=1", "/io?ms=1%", "/io?ms=%%31",
		"/cpu?iters=100000001", "/cpu?iters=100000000&chunk=0&defer=tick", "/cpu?iters=5&chunk=5",
		"/cpu?iters=5&defer=tick", "/cpu?iters=5&chunk=2&defer=", "/cpu?iters=3&chunk=1&defer=loop&x=1",
		"/regex?n=65&engine=re2", "/regex?n=26&engine=backtrack&timeout_ms=0", "/regex?n=27&engine=backtrack",
		"/regex?engine=backtrack", "/regex?n=5&engine=pcre", "/regex?n=5&engine=re2&timeout_ms=60001",
		"/regex?n=5&engine=re2&reps=x", "/regex?n=27&engine=backtrack&timeout_ms=5&reps=0", "/regex?n=25&engine=backtrack&reps=3",
		"/regex?n=3&engine=backtrack&reps=1000", "/regex?n=3&engine=backtrack&reps=1001",
		"/plain?a=1&b=2&c=3&d=4", "/plain?a=1&a=1", "/plain?%C3%A9=1", "/plain?%FF%FE=1", "/plain?%0A=1",
		"/plain?" + strings.Repeat("k", 40) + "=1", "/plain?k=" + strings.Repeat("%E2%82%AC", 20),
		"/io?ms=1&mode=" + strings.Repeat("%E2%82%AC", 9), "/io?ms=1&mode=%22%5C%07%7F",
		"/nope/" + strings.Repeat("x", 80), "/%E2%82%AC", "/Plain", "/healthz?x",
	} {
		gs, gb, _ := servertest.Get(t, goAddr, target)
		as, ab, _ := servertest.Get(t, addr, target)
		if as != gs || ab != gb {
			t.Errorf("GET %s = %d %q; the Go models answer %d %q", target, as, ab, gs, gb)
		}
	}
}

// TestWriteApacheConfig checks the generated configuration without running
// Apache: the limits, the grace and the paths land where Apache reads them.
func TestWriteApacheConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  servers.Config
		port int
		want []string // lines of httpd.conf
		err  bool
	}{
		{servers.Config{}, 8080, []string{"Listen 127.0.0.1:8080", "ThreadsPerChild 256", "MaxRequestWorkers 256", "ThreadLimit 256", "ServerLimit 1", "GracefulShutdownTimeout 10"}, false},
		{config(2, 1500*time.Millisecond), 1, []string{"ThreadsPerChild 2", "MaxRequestWorkers 2", "MaxSpareThreads 3", "GracefulShutdownTimeout 2"}, false},
		{config(0, time.Millisecond), 9, []string{"GracefulShutdownTimeout 1"}, false},
		{config(10001, 0), 8080, nil, true},
		{servers.Config{}, 0, nil, true},
		{servers.Config{}, 65536, nil, true},
	} {
		run, logs := t.TempDir(), t.TempDir()
		files, err := WriteApacheConfig(run, logs, tt.port, tt.cfg)
		if (err != nil) != tt.err {
			t.Errorf("WriteApacheConfig(port %d, %+v) error = %v; want error %t", tt.port, tt.cfg, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		conf, err := os.ReadFile(files.Conf)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(conf), "\n")
		for _, w := range append(tt.want, `ErrorLog "`+logs+`/error.log"`, `PidFile "`+run+`/httpd.pid"`) {
			if !slices.Contains(lines, w) {
				t.Errorf("WriteApacheConfig(port %d, %+v): httpd.conf has no line %q", tt.port, tt.cfg, w)
			}
		}
		handler, err := os.ReadFile(filepath.Join(run, "handler.lua"))
		if err != nil {
			t.Fatal(err)
		}
		max := tt.cfg.MaxThreads
		if max == 0 {
			max = launch.DefaultMaxThreads
		}
		if want := "local MAX_THREADS = " + strconv.Itoa(max) + "\n"; !strings.Contains(string(handler), want) {
			t.Errorf("WriteApacheConfig(%+v): handler.lua has no %q", tt.cfg, want)
		}
	}
}
