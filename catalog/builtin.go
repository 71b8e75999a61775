package catalog

// builtin is the catalog of what ships with concbench. Reference entries go
// after the Go model they stand beside. Whether a reference can run here is
// not the catalog's to say (it needs the program and its version or
// modules): servers/reference.Check answers that for every reference name.
var builtin = mustNew(
	Entry{Name: "thread", Kind: GoModel, Summary: "thread per request (Apache): each in-flight request holds an OS thread; --max-threads caps them"},
	Entry{Name: "apache-worker", Kind: Reference, Beside: "thread", Summary: "real Apache httpd 2.4, worker MPM, routes in mod_lua on the request's thread; --max-threads is MaxRequestWorkers"},
	Entry{Name: "eventloop", Kind: GoModel, Summary: "one event loop on one thread (Node.js): handlers run on the loop, CPU work blocks every request"},
	Entry{Name: "node-loop", Kind: Reference, Beside: "eventloop", Summary: "real Node.js, one loop: every handler on the main thread"},
	Entry{Name: "offload", Kind: GoModel, Summary: "event loop + bounded worker pool (libuv): CPU and regex work run on --workers threads"},
	Entry{Name: "node-pool", Kind: Reference, Beside: "offload", Summary: "real Node.js, CPU and regex work on a worker_threads pool of --workers, bounded --queue (503 when full)"},
	Entry{Name: "cluster", Kind: GoModel, Summary: "N event-loop processes (Node cluster): the supervisor hands each connection to the next free child (--balance rr, Node's default) or the kernel spreads them with SO_REUSEPORT (--balance reuseport); --procs"},
	Entry{Name: "node-cluster", Kind: Reference, Beside: "cluster", Summary: "real Node.js cluster module, --procs workers, default (round-robin) scheduling"},
	Entry{Name: "goroutine", Kind: GoModel, Summary: "Go's net/http, a goroutine per connection: the reference row"},
)

func mustNew(entries ...Entry) *Catalog {
	c, err := New(entries...)
	if err != nil {
		panic(err) // the built-in list is a constant: its test catches this
	}
	return c
}

// Builtin returns the catalog of the servers that ship with concbench.
func Builtin() *Catalog { return builtin }

// Lookup finds a built-in entry by name.
func Lookup(name string) (Entry, bool) { return builtin.Lookup(name) }

// Names returns the built-in names, in the order reports show them.
func Names() []string { return builtin.Names() }

// All returns the built-in entries, in the order reports show them.
func All() []Entry { return builtin.All() }
