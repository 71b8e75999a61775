package servertest

import (
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
)

// Suite runs, as subtests, every test a model must pass, each on servers of
// its own made by newServer listening on 127.0.0.1:0: Conformance (model is
// the name its /stats reports), Wire, Malformed, Shutdown (with a 5 s grace),
// GraceOver (with a 100 ms grace), Config and Pprof. A model's own package
// calls it once and adds the tests of its own claims.
func Suite(t *testing.T, model string, newServer NewFunc) {
	serve := func(t *testing.T, cfg servers.Config) servers.Server {
		t.Helper()
		cfg.Addr = "127.0.0.1:0"
		srv, err := newServer(cfg)
		if err != nil {
			t.Fatalf("New(%+v) = %v", cfg, err)
		}
		return srv
	}
	t.Run("Conformance", func(t *testing.T) { Conformance(t, Start(t, serve(t, servers.Config{})), model) })
	t.Run("Wire", func(t *testing.T) { Wire(t, Start(t, serve(t, servers.Config{}))) })
	t.Run("Malformed", func(t *testing.T) { Malformed(t, Start(t, serve(t, servers.Config{}))) })
	t.Run("Shutdown", func(t *testing.T) {
		Shutdown(t, serve(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
	})
	t.Run("GraceOver", func(t *testing.T) {
		GraceOver(t, serve(t, servers.Config{Settings: launch.Settings{Grace: 100 * time.Millisecond}}))
	})
	t.Run("Config", func(t *testing.T) { Config(t, newServer) })
	t.Run("Pprof", func(t *testing.T) { Pprof(t, newServer) })
}
