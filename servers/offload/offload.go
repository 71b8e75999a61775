// Package offload is the event loop plus a bounded worker pool, the way Node
// hands work to libuv's thread pool (4 threads by default): /cpu and /regex run
// on cfg.Workers goroutines, everything else on the loop exactly as in package
// eventloop, which this model reuses through eventloop.WithOffloader. When the
// pool's queue (cfg.Queue jobs) is full the loop answers 503 with Retry-After: 1
// at once, so memory stays bounded however fast requests come.
//
// Answers come back through the loop: a worker posts the finished response
// with EventLoop.Execute and the loop writes it, in request order per
// connection.
package offload

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/stats"
)

// Model is the model's name, as reported in /stats.
const Model = "offload"

// Server is the event loop with a worker pool.
type Server struct {
	pool *Pool
	loop *eventloop.Server
}

var _ servers.Server = (*Server)(nil)

// New checks cfg and returns a server with a pool of cfg.Workers workers and
// room for cfg.Queue waiting jobs; it does not listen yet.
func New(cfg servers.Config) (*Server, error) { return NewWithOptions(cfg) }

// NewWithOptions is New with options for the underlying event loop (say,
// eventloop.WithReusePort); the offloader and model name are set here.
func NewWithOptions(cfg servers.Config, opts ...eventloop.Option) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	pool := NewPool(cfg.Workers, cfg.Queue)
	opts = append(opts[:len(opts):len(opts)], eventloop.WithOffloader(pool), eventloop.WithModel(Model))
	loop, err := eventloop.NewWithOptions(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &Server{pool: pool, loop: loop}, nil
}

// Serve implements servers.Server: it starts the workers, serves like
// eventloop.Server.Serve (whose drain waits for jobs in flight too, since
// they count as in flight) and stops the workers.
func (s *Server) Serve(ctx context.Context, ready func(net.Addr)) error {
	s.pool.Start()
	defer s.pool.Stop()
	return s.loop.Serve(ctx, ready)
}

// Snapshot returns this process's /stats figures. It is safe for concurrent use.
func (s *Server) Snapshot() stats.Snapshot { return s.loop.Snapshot() }

// Pool is a fixed set of worker goroutines reading jobs from one buffered
// channel. That is all libuv's pool is too (N threads, one FIFO queue), and a
// channel already gives what the model needs: FIFO order, a hard bound on
// waiting jobs, a non-blocking submit (select with default) for the loop, and
// its length for /stats. Nothing is spawned per job and no worker ever
// expires, so the thread and goroutine counts in /stats are the model's own.
// (gnet's pkg/pool/goroutine is not used: it wraps ants with a 256Ki-worker
// default and releases ants' default pool in an init.)
//
// Every method is safe for concurrent use.
type Pool struct {
	workers int
	jobs    chan job
	quit    chan struct{}

	startOnce, stopOnce sync.Once
	stopped             atomic.Bool

	busy     atomic.Int64
	peak     atomic.Int64 // deepest the queue was right after a submit
	rejected atomic.Uint64
	wait     *servers.Histogram // time from submit to a worker taking the job
}

type job struct {
	fn     func()
	queued time.Time
}

// NewPool returns a pool of workers goroutines with room for queue waiting
// jobs. The workers start with Start.
func NewPool(workers, queue int) *Pool {
	return &Pool{
		workers: workers,
		jobs:    make(chan job, queue),
		quit:    make(chan struct{}),
		wait:    servers.NewHistogram(),
	}
}

// Start starts the workers; later calls do nothing.
func (p *Pool) Start() {
	p.startOnce.Do(func() {
		for range p.workers {
			go p.work()
		}
	})
}

// Stop tells the workers to exit once their current job is done and refuses
// new jobs. It does not wait: a CPU job cannot be interrupted, and the server
// must not outlive its grace period for it. Jobs still queued are dropped;
// their requests are past the grace period and their connections closed.
func (p *Pool) Stop() {
	p.stopOnce.Do(func() {
		p.stopped.Store(true)
		close(p.quit)
	})
}

// work runs jobs on an OS thread of its own, as a libuv pool thread does: with
// a P per worker (models.Procs) the kernel time-slices the workers and the loop.
func (p *Pool) work() {
	runtime.LockOSThread() // never unlocked: the thread exits with the worker
	for {
		select {
		case <-p.quit:
			return
		case j := <-p.jobs:
			p.wait.Record(time.Since(j.queued))
			p.busy.Add(1)
			j.fn()
			p.busy.Add(-1)
		}
	}
}

// TrySubmit queues fn for a worker, or reports false at once when the queue
// is full or the pool stopped. It never blocks.
func (p *Pool) TrySubmit(fn func()) bool {
	if p.stopped.Load() {
		p.rejected.Add(1)
		return false
	}
	select {
	case p.jobs <- job{fn: fn, queued: time.Now()}:
		d := int64(len(p.jobs))
		for {
			old := p.peak.Load()
			if d <= old || p.peak.CompareAndSwap(old, d) {
				break
			}
		}
		return true
	default:
		p.rejected.Add(1)
		return false
	}
}

// Stats reports the pool's figures.
func (p *Pool) Stats() stats.PoolStats {
	return stats.PoolStats{
		Workers:        p.workers,
		QueueCap:       cap(p.jobs),
		QueueDepth:     len(p.jobs),
		QueueDepthPeak: int(p.peak.Load()),
		Busy:           int(p.busy.Load()),
		Rejected:       p.rejected.Load(),
		QueueWait:      p.wait.Summary(),
	}
}
