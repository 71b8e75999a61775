package thread_test

import (
	"os"
	"testing"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/servertest"
	"github.com/concbench/concbench/servers/thread"
)

func newHostile(cfg servers.Config) (servers.Server, error) { return thread.New(cfg) }

// TestMain lets this test binary be the server of the hostile-client suite,
// which runs it in a process of its own (servertest.Launch).
func TestMain(m *testing.M) {
	servertest.ServeChild(newHostile)
	os.Exit(m.Run())
}

func TestHostile(t *testing.T) {
	servertest.HostileSuite(t, newHostile, servertest.HostileOptions{HalfOpen: true})
}
