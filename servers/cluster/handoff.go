package cluster

// The rr balance: the supervisor accepts every connection and hands it to a
// child over a Unix socket (SCM_RIGHTS), the way Node's cluster module does by
// default on Linux (SCHED_RR, lib/internal/cluster/round_robin_handle.js).
//
// Node's rule, which this file follows, is not "the next child whatever it is
// doing": the primary sends a worker one connection and sends it another only
// once the worker has acknowledged the first, and the worker acknowledges from
// its event loop. Idle workers wait in a queue ordered by when they became
// free; connections that arrive while no worker is free wait in the primary.
// So a child whose loop is blocked holds back exactly the one connection it
// was handed last, and every later one goes to the others.
//
// The wire, one SOCK_SEQPACKET socketpair per child (the child's end is its
// file descriptor 3):
//   - supervisor → child: one byte, with the connection's descriptor attached.
//     The supervisor closes its own descriptor as soon as the message is sent,
//     so it holds only connections that no child has yet.
//   - child → supervisor: one byte, once when the child's loop serves (the
//     child is then free) and once per connection after its loop has opened
//     it. EOF means the child is gone.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/concbench/concbench/servers/eventloop"
)

// linkFD is the descriptor a child finds its end of the link on (the first of
// exec.Cmd.ExtraFiles).
const linkFD = 3

// balancer is the supervisor's side of the rr balance.
type balancer struct {
	ln  *net.TCPListener
	log *slog.Logger

	mu      sync.Mutex     // guards the fields below
	pending []*net.TCPConn // accepted, not yet handed to a child, oldest first
	free    []*link        // children that have acknowledged all they were handed, longest free first
	closed  bool           // no more handoffs: the supervisor is stopping
}

// link is the supervisor's end of one child's socket. Its fields are guarded
// by balancer.mu.
type link struct {
	index int
	conn  *net.UnixConn
	gone  bool // the child closed its end, or a handoff to it failed
}

// listenRR listens on addr for the supervisor.
func listenRR(addr string, log *slog.Logger) (*balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &balancer{ln: ln.(*net.TCPListener), log: log}, nil
}

func (b *balancer) addr() *net.TCPAddr { return b.ln.Addr().(*net.TCPAddr) }

// accept takes connections until the listener is closed.
func (b *balancer) accept() {
	for {
		c, err := b.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: the connection stays in the
			// backlog, and the next Accept tries again.
			b.log.Warn("cluster: accept", "err", err)
			continue
		}
		b.distribute(c)
	}
}

// distribute queues c and, if a child is free, hands it the oldest queued
// connection (Node's RoundRobinHandle.distribute).
func (b *balancer) distribute(c *net.TCPConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = c.Close()
		return
	}
	b.pending = append(b.pending, c)
	if len(b.free) > 0 {
		l := b.free[0]
		b.free = b.free[1:]
		b.handoff(l)
	}
}

// handoff gives l the oldest queued connection, or, when none is queued,
// puts l at the end of the free queue (Node's RoundRobinHandle.handoff). A
// child that cannot be sent to is dropped and the connection goes to the
// next free child. Called with b.mu held.
//
// The send cannot block: a child is sent a connection only when it has
// acknowledged everything before, so its socket holds at most one message.
func (b *balancer) handoff(l *link) {
	for l != nil {
		if l.gone || b.closed {
			return
		}
		if len(b.pending) == 0 {
			b.free = append(b.free, l)
			return
		}
		c := b.pending[0]
		err := sendConn(l.conn, c)
		if err == nil {
			b.pending[0] = nil
			b.pending = b.pending[1:]
			_ = c.Close() // the child has its own descriptor now
			return
		}
		// The child died between its last acknowledgement and now: the
		// connection never left, so it goes to the next free child.
		b.log.Warn("cluster: handing a connection to a child failed; trying the next", "child", l.index, "err", err)
		b.dropLocked(l)
		l = nil
		if len(b.free) > 0 {
			l = b.free[0]
			b.free = b.free[1:]
		}
	}
}

// sendConn sends c's descriptor over l.
func sendConn(l *net.UnixConn, c *net.TCPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := raw.Control(func(fd uintptr) {
		_, _, werr = l.WriteMsgUnix([]byte{1}, unix.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return werr
}

// newLink makes the socketpair of child index: the supervisor's end, wrapped,
// and the child's end, to pass in ExtraFiles and close once the child runs.
// The link counts as busy until the child's first byte says its loop serves.
func (b *balancer) newLink(index int) (*link, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: link to child %d: %w", index, err)
	}
	mine := os.NewFile(uintptr(fds[0]), "cluster-link")
	theirs := os.NewFile(uintptr(fds[1]), "cluster-link-child")
	fc, err := net.FileConn(mine) // a duplicate, in the runtime's poller
	_ = mine.Close()
	if err != nil {
		_ = theirs.Close()
		return nil, nil, fmt.Errorf("cluster: link to child %d: %w", index, err)
	}
	return &link{index: index, conn: fc.(*net.UnixConn)}, theirs, nil
}

// watch reads l's acknowledgements until the child closes its end: each one
// frees the child for the next connection.
func (b *balancer) watch(l *link) {
	buf := make([]byte, 16)
	for {
		n, err := l.conn.Read(buf)
		if err != nil || n == 0 {
			b.drop(l)
			return
		}
		b.mu.Lock()
		for range n { // a SEQPACKET read returns one message: n is 1
			b.handoff(l)
		}
		b.mu.Unlock()
	}
}

// drop forgets l: its child is gone.
func (b *balancer) drop(l *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(l)
}

func (b *balancer) dropLocked(l *link) {
	if l.gone {
		return
	}
	l.gone = true
	_ = l.conn.Close()
	if i := slices.Index(b.free, l); i >= 0 {
		b.free = slices.Delete(b.free, i, i+1)
	}
}

// close stops accepting and handing off, and closes the connections no child
// has taken (their clients see the connection closed, as with a listener's
// backlog). The links stay open: each child's end closes when it exits.
func (b *balancer) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, c := range b.pending {
		_ = c.Close()
	}
	b.pending = nil
}

// takeConns runs in an rr child once its loop serves: it says so to the
// supervisor, then adopts every connection the supervisor hands over into
// srv's loop and acknowledges each once the loop has opened it. It returns
// when the supervisor closes the link or ctx is done.
func takeConns(ctx context.Context, l *net.UnixConn, srv *eventloop.Server, log *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	ack := []byte{1}
	if _, err := l.Write(ack); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*4)) // room for a few descriptors; one comes
	for {
		_, oobn, _, _, err := l.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		for _, fd := range parseRights(oob[:oobn], log) {
			if err := adopt(ctx, srv, fd); err != nil && ctx.Err() == nil {
				log.Warn("cluster child: a handed connection was lost", "err", err)
			}
		}
		if _, err := l.Write(ack); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ack: %w", err)
		}
	}
}

// adopt turns a received descriptor into a connection on srv's loop. The
// descriptor is closed either way.
func adopt(ctx context.Context, srv *eventloop.Server, fd int) error {
	f := os.NewFile(uintptr(fd), "handed-conn")
	c, err := net.FileConn(f) // a duplicate
	_ = f.Close()
	if err != nil {
		return err
	}
	return srv.Adopt(ctx, c)
}

// parseRights returns the descriptors in a control message.
func parseRights(oob []byte, log *slog.Logger) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		log.Warn("cluster child: bad control message", "err", err)
		return nil
	}
	var fds []int
	for _, m := range msgs {
		r, err := syscall.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}
