package eventloop_test

import (
	"testing"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/servertest"
)

// The tests every model passes.

func newModel(cfg servers.Config) (servers.Server, error) { return eventloop.New(cfg) }

func TestConformance(t *testing.T) {
	addr := servertest.Start(t, newServer(t, servers.Config{}))
	servertest.Conformance(t, addr, eventloop.Model)
}

func TestWire(t *testing.T) {
	servertest.Wire(t, servertest.Start(t, newServer(t, servers.Config{})))
}

func TestMalformed(t *testing.T) {
	servertest.Malformed(t, servertest.Start(t, newServer(t, servers.Config{})))
}

func TestShutdown(t *testing.T) {
	servertest.Shutdown(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 5 * time.Second}}))
}

func TestGraceOver(t *testing.T) {
	servertest.GraceOver(t, newServer(t, servers.Config{Settings: launch.Settings{Grace: 100 * time.Millisecond}}))
}

func TestConfig(t *testing.T) { servertest.Config(t, newModel) }

func TestPprof(t *testing.T) { servertest.Pprof(t, newModel) }
