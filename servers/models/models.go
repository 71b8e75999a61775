// Package models holds the constructors of the Go concurrency models, keyed by
// their catalog name. Only `concbench serve` needs them; everything else reads
// names and summaries from the catalog package without linking the servers.
package models

import (
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/cluster"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/offload"
	"github.com/concbench/concbench/servers/thread"
)

// Constructor builds a model from its configuration.
type Constructor func(servers.Config) (servers.Server, error)

// adapt turns a model package's typed constructor into a Constructor.
func adapt[S servers.Server](f func(servers.Config) (S, error)) Constructor {
	return func(c servers.Config) (servers.Server, error) {
		s, err := f(c)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// constructors has one entry per catalog.GoModel entry (models_test checks both ways).
var constructors = map[string]Constructor{
	"thread":    adapt(thread.New),
	"eventloop": adapt(eventloop.New),
	"offload":   adapt(offload.New),
	"cluster":   adapt(cluster.New),
	"goroutine": adapt(goroutine.New),
}

// New returns the constructor of the Go model named name in the catalog.
func New(name string) (Constructor, bool) {
	c, ok := constructors[name]
	return c, ok
}
