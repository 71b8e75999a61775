package eventloop_test

import (
	"testing"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/servertest"
)

// The tests every model passes.

func newModel(cfg servers.Config) (servers.Server, error) { return eventloop.New(cfg) }

func TestSuite(t *testing.T) { servertest.Suite(t, eventloop.Model, newModel) }
