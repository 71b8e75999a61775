// Package models lists the concurrency models concbench can serve, by name.
package models

import (
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/cluster"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/offload"
	"github.com/concbench/concbench/servers/thread"
)

// Model is one entry of the list.
type Model struct {
	Name    string
	Summary string
	New     func(servers.Config) (servers.Server, error)
}

// adapt turns a model package's typed constructor into the list's.
func adapt[S servers.Server](f func(servers.Config) (S, error)) func(servers.Config) (servers.Server, error) {
	return func(c servers.Config) (servers.Server, error) {
		s, err := f(c)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

var all = []Model{
	{"thread", "thread per request (Apache): each in-flight request holds an OS thread; --max-threads caps them", adapt(thread.New)},
	{"eventloop", "one event loop on one thread (Node.js): handlers run on the loop, CPU work blocks every request", adapt(eventloop.New)},
	{"offload", "event loop + bounded worker pool (libuv): CPU and regex work run on --workers threads", adapt(offload.New)},
	{"cluster", "N event-loop processes sharing the port with SO_REUSEPORT (Node cluster); --procs", adapt(cluster.New)},
	{"goroutine", "Go's net/http, a goroutine per connection: the reference row", adapt(goroutine.New)},
}

// All returns every model, in the order reports show them.
func All() []Model { return append([]Model(nil), all...) }

// Names returns the model names.
func Names() []string {
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Name
	}
	return names
}

// Lookup finds a model by name.
func Lookup(name string) (Model, bool) {
	for _, m := range all {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}
