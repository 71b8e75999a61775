package reference

import (
	"strconv"
	"testing"

	"github.com/concbench/concbench/servers"
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

// apacheDeviations are the conformance checks Apache answers differently,
// each with the reason (README-apache.md lists them with both answers).
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
