package cluster_test

import (
	"testing"

	"github.com/concbench/concbench/servers/servertest"
)

// TestHostile runs the hostile-client suite against a cluster of two
// children; TestMain lets the test binary be its supervisor.
func TestHostile(t *testing.T) {
	// gnet closes a connection at the client's EOF: no half-open connections.
	servertest.Hostile(t, servertest.Launch, servertest.HostileOptions{HalfOpen: false})
}

func TestEdges(t *testing.T) { servertest.Edges(t, start(t, 1)) }
