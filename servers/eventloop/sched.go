package eventloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// scheduler holds the loop's two queues of deferred work. Only the loop
// touches it.
//
//   - Microtasks (process.nextTick) are drained completely at the end of every
//     callback, before gnet polls again: a microtask queued by a microtask
//     runs in the same drain, so nothing else gets in between.
//   - Immediates (setImmediate) run when the wake connection becomes readable:
//     a socketpair whose one side is enrolled in the loop like a client
//     connection. Queuing the first immediate writes one byte to the other
//     side; the loop sees it at its next epoll_wait, together with every
//     client that sent something meanwhile, and runs the immediates queued so
//     far (not those they queue: those wait for the next round, as in Node).
//
// Why not EventLoop.Execute for immediates: gnet runs Execute's tasks from a
// queue it drains until it is empty, so a task re-posting itself runs again at
// once, before any I/O, which makes defer=loop the same as defer=tick.
type scheduler struct {
	micro     []func()
	immediate []func()
	spare     []func() // the other immediate slice, reused
	// wakePending: a byte is in the socketpair and not yet read, so at most
	// one byte is ever in flight and the write can never block.
	wakePending bool
	// wakeOpen: the wake connection is registered with the loop.
	wakeOpen bool
}

// nextTick queues fn as a microtask.
func (q *scheduler) nextTick(fn func()) { q.micro = append(q.micro, fn) }

// drainMicrotasks runs microtasks until none is left.
func (q *scheduler) drainMicrotasks() {
	for i := 0; i < len(q.micro); i++ {
		fn := q.micro[i]
		q.micro[i] = nil
		fn()
	}
	q.micro = q.micro[:0]
}

// setImmediate queues fn to run on the loop after the I/O events that are
// ready by then. loop is only used if the wake connection is not there (it is
// registered before Serve calls ready, so only a client that connected to a
// fixed port early could see this): fn is then posted with Execute.
func (s *Server) setImmediate(loop gnet.EventLoop, fn func()) {
	q := &s.sched
	if !q.wakeOpen {
		s.post(loop, fn)
		return
	}
	q.immediate = append(q.immediate, fn)
	if q.wakePending {
		return
	}
	if _, err := syscall.Write(int(s.wakeFD.Load()), []byte{1}); err != nil {
		s.cfg.Log.Error("waking the loop for immediates failed; posting them with Execute", "err", err)
		pending := q.immediate
		q.immediate = nil
		for _, fn := range pending {
			s.post(loop, fn)
		}
		return
	}
	q.wakePending = true
}

// runImmediates is the wake connection's OnTraffic: it runs the immediates
// queued so far, each followed by a microtask drain, like Node's check phase.
func (s *Server) runImmediates(c gnet.Conn) {
	_, _ = c.Discard(-1) // the wake bytes carry nothing
	q := &s.sched
	q.wakePending = false
	batch := q.immediate
	q.immediate = q.spare[:0]
	for i, fn := range batch {
		batch[i] = nil
		fn()
		s.endCallback()
	}
	q.spare = batch[:0]
}

// runnable wraps fn for EventLoop.Execute: fn runs on the loop and the
// callback ends like every other (microtasks drained, closes done).
func (s *Server) runnable(fn func()) gnet.Runnable {
	return gnet.RunnableFunc(func(context.Context) error {
		fn()
		s.endCallback()
		return nil
	})
}

// post runs fn on the loop, from any goroutine. It fails only once the engine
// is stopping; the work's answer is then dropped, which is expected after the
// grace period and logged otherwise.
func (s *Server) post(loop gnet.EventLoop, fn func()) {
	if err := loop.Execute(context.Background(), s.runnable(fn)); err != nil && !s.stopping.Load() {
		s.cfg.Log.Error("cannot post a completion to the loop; its answer is lost", "err", err)
	}
}

// register creates the wake socketpair, enrolls one side in the engine and
// keeps the loop handle it comes back with. It runs on its own goroutine,
// started by the first OnTick, and ends start-up by closing s.started.
func (s *Server) register() {
	loop, err := s.enrollWake()
	if err != nil {
		s.closeWake()
	}
	s.loop, s.startErr = loop, err
	close(s.started)
}

func (s *Server) enrollWake() (gnet.EventLoop, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("wake socketpair: %w", err)
	}
	// Published before Register, which hands the other side to the loop, so
	// the loop sees it once the wake connection is open.
	s.wakeFD.Store(int64(fds[1]))
	f := os.NewFile(uintptr(fds[0]), "eventloop-wake")
	nc, err := net.FileConn(f) // dups fds[0]
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("wake conn: %w", err)
	}
	// gnet dups nc's descriptor again and closes nc once registered.
	ctx := gnet.NewContext(gnet.NewNetConnContext(context.Background(), nc), wakeMark{})
	ch, err := s.eng.Register(ctx)
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("register wake conn: %w", err)
	}
	select {
	case res := <-ch:
		if res.Err == nil && res.Conn == nil {
			res.Err = errors.New("no connection")
		}
		if res.Err != nil {
			return nil, fmt.Errorf("register wake conn: %w", res.Err)
		}
		return res.Conn.EventLoop(), nil
	case <-s.quit: // Serve gave up: the engine died while starting
		return nil, errors.New("engine stopped while starting")
	}
}

// closeWake closes this side of the wake socketpair: once the engine is
// stopped, or when the registration failed.
func (s *Server) closeWake() {
	if fd := s.wakeFD.Swap(-1); fd >= 0 {
		_ = syscall.Close(int(fd))
	}
}

// probe measures the loop's delay like Node's monitorEventLoopDelay: a probe
// is due ProbeInterval after the previous one ran; it is posted onto the loop
// with Execute and records how late it ran against the time it was due. One
// probe is outstanding at a time, so a loop blocked for 300 ms yields one
// sample of about 300 ms (Node's timer fires once, late), not thirty.
//
// Lateness counts from the due time, not from the moment this goroutine got
// to post the probe: with GOMAXPROCS=1 a loop busy hashing holds the only P,
// so this goroutine itself wakes late (until the runtime preempts the loop),
// and timing from the post would hide up to ~10 ms of every block. Unlike
// Node's raw histogram, the figure excludes the 10 ms resolution itself: an
// idle loop shows microseconds, not 10 ms. It runs until ctx is done.
func (s *Server) probe(ctx context.Context) {
	ran := make(chan time.Time, 1)
	timer := time.NewTimer(ProbeInterval)
	defer timer.Stop()
	due := time.Now().Add(ProbeInterval)
	for {
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		d := due
		err := s.loop.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			now := time.Now()
			s.delay.Record(now.Sub(d))
			ran <- now
			s.housekeep(now)
			s.endCallback()
			return nil
		}))
		if err != nil {
			if !s.stopping.Load() {
				s.cfg.Log.Error("loop-delay probe stopped", "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case now := <-ran:
			due = now.Add(ProbeInterval)
		}
	}
}
