package thread_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/servers/thread"
)

func newServer(cfg servers.Config) (servers.Server, error) { return thread.New(cfg) }

// start serves a thread model with at most maxThreads concurrent requests
// (0: the default) on 127.0.0.1:0 for the test.
func start(t *testing.T, maxThreads int) string {
	t.Helper()
	srv, err := thread.New(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0", Tuning: launch.Tuning{MaxThreads: maxThreads}}})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, srv)
}

func TestSuite(t *testing.T) { servertest.Suite(t, thread.Model, newServer) }

// TestStackErrors checks the answers of the model's fasthttp ErrorHandler,
// which Malformed only checks by status.
func TestStackErrors(t *testing.T) {
	addr := start(t, 0)
	for _, tt := range []struct {
		name, raw string
		status    int
		body      string
	}{
		{"garbage", "this is not http\r\n\r\n", 400, "malformed request\n"},
		{"no host", "GET /plain HTTP/1.1\r\n\r\n", 400, "malformed request\n"},
		{"header over 8 KiB", "GET /plain HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8192) + "\r\n\r\n", 431, "request header too large\n"},
	} {
		resp, body, err := servertest.Fetch(addr, tt.raw)
		if err != nil {
			// fasthttp resets a connection it stopped reading, which can
			// lose the answer; Malformed accepts that too.
			t.Logf("%s: no answer: %v", tt.name, err)
			continue
		}
		if resp.StatusCode != tt.status || body != tt.body || !resp.Close {
			t.Errorf("%s: answered %d %q (close %v); want %d %q and Connection: close", tt.name, resp.StatusCode, body, resp.Close, tt.status, tt.body)
		}
		for k, want := range map[string]string{"Content-Type": "text/plain; charset=utf-8", "Server": "concbench", "Content-Length": strconv.Itoa(len(tt.body))} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q; want %q", tt.name, k, got, want)
			}
		}
	}
}

// TestStatsMaxThreads checks /stats reports the cap.
func TestStatsMaxThreads(t *testing.T) {
	if got := servertest.Stats(t, start(t, 3)).MaxThreads; got != 3 {
		t.Errorf("/stats max_threads = %d; want 3", got)
	}
}

// TestRequestsWaitForAThread shows the cap: with one thread, a /plain sent
// while a /io?ms=300 holds it waits, and is answered only once the /io is
// done. Completion is read from /stats rather than from which answer arrives
// first: the thread is released when the answer is rendered, so the two
// answers are written to their sockets at about the same time.
func TestRequestsWaitForAThread(t *testing.T) {
	addr := start(t, 1)
	ioDone := make(chan string, 1)
	go func() {
		resp, body, err := servertest.Fetch(addr, servertest.Request("GET", "/io?ms=300"))
		if err != nil {
			ioDone <- err.Error()
			return
		}
		ioDone <- strconv.Itoa(resp.StatusCode) + " " + body
	}()
	servertest.WaitInFlight(t, addr, 1) // /stats itself takes no thread slot

	if status, body, _ := servertest.Get(t, addr, "/plain"); status != 200 || body != "hello from concbench\n" {
		t.Errorf("GET /plain = %d %q; want 200 %q", status, body, "hello from concbench\n")
	}
	if n := servertest.Stats(t, addr).Completed["io"]; n != 1 {
		t.Errorf("GET /plain was answered while GET /io?ms=300 held the only thread (completed io = %d); want it answered after the /io", n)
	}
	if got, want := <-ioDone, "200 waited 300ms\n"; got != want {
		t.Errorf("GET /io?ms=300 = %q; want %q", got, want)
	}
}

// freshProcessEnv marks a test binary started by a test to run one test in a
// process of its own.
const freshProcessEnv = "CONCBENCH_FRESH_PROCESS"

// TestThreadPerRequest shows every in-flight request holds an OS thread of
// its own: with MaxThreads 16 and 16 concurrent /io?ms=500, /stats must count
// at least 18 threads (one per request, plus the runtime's monitor thread and
// the one serving /stats), and os_threads_peak must have risen by at least 8:
// the runtime had to start threads.
//
// The Go runtime keeps idle threads for reuse and never ends them, so the
// requests first take the idle threads of the process (a fresh test process
// has about 5 threads, a few of them idle; with 8 requests the rise was seen
// anywhere from 6 to 8). Hence 16 requests, and a fresh process of its own:
// earlier tests would leave more idle threads behind.
func TestThreadPerRequest(t *testing.T) {
	const n = 16
	if os.Getenv(freshProcessEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestThreadPerRequest$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), freshProcessEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestThreadPerRequest") {
			t.Fatalf("in a fresh process: %v\n%s", err, out)
		}
		t.Logf("in a fresh process:\n%s", out)
		return
	}

	addr := start(t, n)
	idle := servertest.Stats(t, addr)
	var sent sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		sent.Go(func() {
			_, _, err := servertest.Fetch(addr, servertest.Request("GET", "/io?ms=500"))
			errs <- err
		})
	}
	answered := make(chan struct{})
	go func() { sent.Wait(); close(answered) }()

	// A request is in flight from before it takes its thread, so poll until
	// the threads show up, failing if the requests are answered first.
	servertest.WaitInFlight(t, addr, n)
	busy := servertest.Stats(t, addr)
	for busy.OSThreads < n+2 {
		select {
		case <-answered:
			t.Fatalf("all %d requests were answered before /stats counted %d OS threads (last %d)", n, n+2, busy.OSThreads)
		case <-time.After(5 * time.Millisecond):
		}
		busy = servertest.Stats(t, addr)
	}
	<-answered
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("GET /io?ms=500: %v", err)
		}
	}
	t.Logf("OS threads: idle %d (peak %d); with %d requests in flight %d (peak %d)", idle.OSThreads, idle.PeakOSThr, n, busy.OSThreads, busy.PeakOSThr)
	if rise := busy.PeakOSThr - idle.PeakOSThr; rise < n/2 {
		t.Errorf("with %d requests in flight, os_threads_peak rose from %d to %d; want a rise of at least %d", n, idle.PeakOSThr, busy.PeakOSThr, n/2)
	}
	if busy.MaxThreads != n {
		t.Errorf("/stats max_threads = %d; want %d", busy.MaxThreads, n)
	}
}
