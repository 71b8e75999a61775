package servertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
)

// NewFunc builds a model from a configuration, as the model's New does.
type NewFunc func(servers.Config) (servers.Server, error)

// Shutdown checks graceful shutdown: srv (configured with "127.0.0.1:0" and a
// grace period of several seconds) is started, a GET /io?ms=300 is sent, and
// once it is in flight Serve's context is cancelled. The request must still be
// answered 200, Serve must return nil, and the address must then refuse
// connections.
func Shutdown(t *testing.T, srv servers.Server) {
	t.Helper()
	addr, cancel, served := run(t, srv)

	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, body, err := Fetch(addr, Request("GET", "/io?ms=300"))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		answered <- answer{resp.StatusCode, body, nil}
	}()
	WaitInFlight(t, addr, 1)
	cancel()

	a := <-answered // Fetch is bounded by Timeout
	if a.err != nil || a.status != 200 || a.body != "waited 300ms\n" {
		t.Errorf("GET /io?ms=300 in flight at shutdown = %d %q, %v; want 200 %q", a.status, a.body, a.err, "waited 300ms\n")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v after shutdown; want nil", err)
		}
	case <-time.After(Timeout):
		t.Fatalf("Serve did not return within %s of its context being cancelled", Timeout)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("dial %s after Serve returned: connected; want refused", addr)
	}
}

// Config checks what New and Serve do with bad addresses: New refuses a
// non-loopback Addr or PprofAddr, and Serve on an address already taken
// returns an error without calling ready.
func Config(t *testing.T, newServer NewFunc) {
	t.Helper()
	for _, cfg := range []servers.Config{
		{Settings: launch.Settings{Addr: "0.0.0.0:0"}},
		{Settings: launch.Settings{Addr: "127.0.0.1:0", PprofAddr: "0.0.0.0:6060"}},
		{Settings: launch.Settings{Addr: "127.0.0.1:0", PprofAddr: ":6060"}},
		{Settings: launch.Settings{Addr: "127.0.0.1:0", Grace: -time.Second}},
	} {
		if _, err := newServer(cfg); err == nil {
			t.Errorf("New(%+v) = _, nil; want an error", cfg)
		}
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv, err := newServer(servers.Config{Settings: launch.Settings{Addr: taken.Addr().String()}})
	if err != nil {
		t.Fatalf("New(Addr %s) = _, %v; want a server", taken.Addr(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // in case Serve did serve
	served := make(chan error, 1)
	readied := make(chan net.Addr, 1)
	go func() {
		served <- srv.Serve(ctx, func(a net.Addr) { readied <- a })
	}()
	select {
	case err := <-served:
		if err == nil {
			t.Errorf("Serve on %s, which is taken, returned nil; want an error", taken.Addr())
		}
	case <-time.After(Timeout):
		t.Fatalf("Serve on %s, which is taken, did not return within %s", taken.Addr(), Timeout)
	}
	select {
	case a := <-readied:
		t.Errorf("Serve on %s, which is taken, called ready(%v)", taken.Addr(), a)
	default:
	}
}

// Pprof checks that a model serves net/http/pprof on PprofAddr
// "127.0.0.1:0" and tells the address it bound through Config.PprofServing
// before it calls ready: that is how `concbench serve` learns what to announce.
func Pprof(t *testing.T, newServer NewFunc) {
	t.Helper()
	bound := make(chan string, 1)
	srv, err := newServer(servers.Config{
		Settings: launch.Settings{Addr: "127.0.0.1:0", PprofAddr: "127.0.0.1:0"},
		PprofBound: func(a net.Addr) {
			select {
			case bound <- a.String():
			default: // a second call: the first address is the one announced
			}
		},
	})
	if err != nil {
		t.Fatalf("New with PprofAddr 127.0.0.1:0: %v", err)
	}
	Start(t, srv)
	var addr string
	select {
	case addr = <-bound:
	default:
		t.Fatal("the model did not call Config.PprofBound before ready: serve cannot announce the pprof address")
	}
	if err := launch.CheckLoopback(addr); err != nil {
		t.Errorf("pprof serves on %s: %v", addr, err)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		resp, body, err := Fetch(addr, Request("GET", path, "Connection: close"))
		if err != nil || resp.StatusCode != 200 || body == "" {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("GET %s on the pprof address %s = %d (%d bytes), %v; want 200 and a body", path, addr, status, len(body), err)
		}
	}
}

// errAnswered marks GraceOver's request as answered: the grace period did not
// cut it off.
var errAnswered = errors.New("answered")

// GraceOver checks the end of the grace period: srv (configured with
// "127.0.0.1:0" and a grace period well under a second) is started, a GET
// /io?ms=10000 is sent, and once it is in flight Serve's context is
// cancelled. Serve must return nil, and the request's connection must be
// closed without an answer (had Serve waited for the request, it would have
// been answered). The request's handler may still be sleeping when the test
// ends.
func GraceOver(t *testing.T, srv servers.Server) {
	t.Helper()
	addr, cancel, served := run(t, srv)

	answered := make(chan error, 1)
	go func() {
		resp, body, err := Fetch(addr, Request("GET", "/io?ms=10000"))
		if err == nil {
			err = fmt.Errorf("%w %d %q", errAnswered, resp.StatusCode, body)
		}
		answered <- err
	}()
	WaitInFlight(t, addr, 1)
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v when the grace period was over; want nil", err)
		}
	case <-time.After(Timeout):
		t.Fatalf("Serve did not return within %s of its context being cancelled", Timeout)
	}
	if err := <-answered; isTimeout(err) || errors.Is(err, errAnswered) {
		t.Errorf("GET /io?ms=10000 cut off by the end of the grace period: %v; want the connection closed without an answer", err)
	}
}
