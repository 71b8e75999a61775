package eventloop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/servers"
	schema "github.com/concbench/concbench/stats" // the helper stats() takes the plain name
	"github.com/concbench/concbench/workloads"
)

// serve runs srv until the test ends and returns its address and a stop
// function that cancels Serve and returns its error.
func serve(t testing.TB, srv servers.Server) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		addr = a.String()
	case err := <-done:
		cancel()
		t.Fatalf("Serve = %v before ready", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready after 10s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Error("Serve did not return 15s after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return addr, stop
}

// client is one raw HTTP/1.1 connection.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hung test fails instead of hanging
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// get renders a GET request for target.
func get(target string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: concbench\r\n\r\n"
}

// send writes raw bytes (any number of pipelined requests).
func (c *client) send(raw ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, strings.Join(raw, "")); err != nil {
		c.t.Fatal(err)
	}
}

// answer is one response read off a connection.
type answer struct {
	status int
	header http.Header
	body   string
	close  bool
}

// read reads the next response.
func (c *client) read() answer {
	c.t.Helper()
	a, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return a
}

func (c *client) tryRead() (answer, error) {
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return answer{}, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), close: resp.Close}, nil
}

// roundTrip sends one GET and reads its answer.
func (c *client) roundTrip(target string) answer {
	c.t.Helper()
	c.send(get(target))
	return c.read()
}

// stats decodes a /stats answer.
func stats(t testing.TB, a answer) schema.Snapshot {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("/stats status %d: %s", a.status, a.body)
	}
	var snap schema.Snapshot
	if err := json.Unmarshal([]byte(a.body), &snap); err != nil {
		t.Fatalf("/stats body: %v\n%s", err, a.body)
	}
	return snap
}

// Order of a /plain relative to a long request.
const (
	plainFirst = "plain before it"
	plainAfter = "plain after it"
)

// plainVersus starts long on one connection and, once the server has
// certainly begun it, sends a /plain on another, and reports whether the
// /plain was answered before or after long completed. It judges by the
// server's own counters, not by clocks: the second connection pipelines
// /stats, /plain, /stats, which the loop handles in that order. A first /stats
// that already counts long as completed proves the /plain came after it; a
// last /stats that does not count it yet proves the /plain came first.
//
// The server has begun long once the /plain pipelined in front of it on the
// first connection is answered: the loop handles a connection's requests in
// order and starts long right after writing that answer.
func plainVersus(t testing.TB, addr, long string, route workloads.Route) string {
	t.Helper()
	a, b := dial(t, addr), dial(t, addr)
	a.send(get("/plain"), get(long))
	if got := a.read(); got.status != 200 {
		t.Fatalf("pipelined /plain: status %d", got.status)
	}
	b.send(get("/stats"), get("/plain"), get("/stats"))
	before := stats(t, b.read()).Completed[route.String()]
	if got := b.read(); got.status != 200 || got.body != string(workloads.PlainBody) {
		t.Fatalf("/plain = %d %q", got.status, got.body)
	}
	after := stats(t, b.read()).Completed[route.String()]
	if got := a.read(); got.status != 200 {
		t.Fatalf("%s: status %d: %s", long, got.status, got.body)
	}
	switch {
	case before == 1:
		return plainAfter
	case after == 0:
		return plainFirst
	}
	t.Fatalf("%s completed between two requests handled in one go (counts %d, %d)", long, before, after)
	return ""
}

var calibration struct {
	once       sync.Once
	itersPerMs float64
}

// itersFor returns the /cpu iterations that take about d on this machine when
// it is not busy: the best of a few short runs, since the machine is shared.
func itersFor(d time.Duration) int {
	calibration.once.Do(func() {
		h := workloads.NewHasher(1 << 62)
		for range 8 {
			n, start := 0, time.Now()
			for time.Since(start) < 5*time.Millisecond {
				h.Step(500)
				n += 500
			}
			rate := float64(n) / (float64(time.Since(start)) / float64(time.Millisecond))
			calibration.itersPerMs = max(calibration.itersPerMs, rate)
		}
	})
	return min(max(int(calibration.itersPerMs*float64(d/time.Millisecond)), 1), workloads.MaxIters)
}

var regexCalibration struct {
	once sync.Once
	n    int
}

// regexNFor returns the n whose backtracking /regex takes at least about d
// here: each extra character doubles the time, so it times growing n until a
// match takes d/4 and adds two.
func regexNFor(d time.Duration) int {
	regexCalibration.once.Do(func() {
		n := 10
		for ; n < workloads.MaxUnboundedBacktrackN-2; n++ {
			start := time.Now()
			_, _ = workloads.MatchRegex(workloads.EngineBacktrack, n, 0)
			if time.Since(start) >= d/4 {
				break
			}
		}
		regexCalibration.n = n + 2
	})
	return regexCalibration.n
}
