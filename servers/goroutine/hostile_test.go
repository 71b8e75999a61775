package goroutine_test

import (
	"os"
	"testing"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/servertest"
)

func newHostile(cfg servers.Config) (servers.Server, error) { return goroutine.New(cfg) }

// TestMain lets this test binary be the server of the hostile-client suite,
// which runs it in a process of its own (servertest.Launch).
func TestMain(m *testing.M) {
	servertest.ServeChild(newHostile)
	os.Exit(m.Run())
}

func TestHostile(t *testing.T) {
	servertest.Hostile(t, servertest.Launch, servertest.HostileOptions{HalfOpen: true})
}

func TestEdges(t *testing.T) {
	srv, err := newHostile(servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Edges(t, servertest.Start(t, srv))
}
