package cluster

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeChild is the child's end of a link, read without blocking: a handoff
// is a synchronous sendmsg under the balancer's lock, so once distribute or
// an acknowledgement returns, what was sent is already queued here.
type fakeChild struct {
	f *os.File
}

// take returns how many connections wait on the child's end, closing them.
func (fc fakeChild) take(t *testing.T) int {
	t.Helper()
	n := 0
	for {
		buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*4))
		_, oobn, _, _, err := unix.Recvmsg(int(fc.f.Fd()), buf, oob, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return n
		}
		if err != nil {
			t.Fatalf("recvmsg: %v", err)
		}
		for _, fd := range parseRights(oob[:oobn], slog.New(slog.DiscardHandler)) {
			_ = unix.Close(fd)
			n++
		}
	}
}

// newBalancer listens on a free loopback port; nothing accepts: the test
// accepts with accepted and hands over with distribute.
func newBalancer(t *testing.T) *balancer {
	t.Helper()
	b, err := listenRR("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	return b
}

// accepted dials b and returns the supervisor's side of the connection.
func accepted(t *testing.T, b *balancer) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", b.addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sc, err := b.ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// fakeLink makes child i's link, as start does, and returns it with the child's end.
func fakeLink(t *testing.T, b *balancer, i int) (*link, fakeChild) {
	t.Helper()
	l, theirs, err := b.newLink(i)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = theirs.Close(); _ = l.conn.Close() })
	return l, fakeChild{theirs}
}

// ack is what watch does when child l's byte arrives: the child's first
// says its loop serves, each later one that it has taken a connection.
func ack(b *balancer, l *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handoff(l)
}

// TestHandoffRule: a child is handed a connection only once it has
// acknowledged the last; free children take turns in the order they became
// free; connections that find none free wait in the supervisor, which closes
// its own descriptor of every connection it hands over.
func TestHandoffRule(t *testing.T) {
	b := newBalancer(t)
	la, a := fakeLink(t, b, 0)
	lb, bb := fakeLink(t, b, 1)
	ack(b, la) // both serve: a became free first
	ack(b, lb)

	check := func(step string, wantA, wantB, wantPending int) {
		t.Helper()
		gotA, gotB := a.take(t), bb.take(t)
		b.mu.Lock()
		pending := len(b.pending)
		b.mu.Unlock()
		if gotA != wantA || gotB != wantB || pending != wantPending {
			t.Errorf("%s: child 0 was handed %d, child 1 %d, %d waiting; want %d, %d, %d", step, gotA, gotB, pending, wantA, wantB, wantPending)
		}
	}
	c1 := accepted(t, b)
	b.distribute(c1)
	check("first connection", 1, 0, 0)
	if _, err := c1.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the supervisor's descriptor after the handoff: write = %v; want it closed", err)
	}
	b.distribute(accepted(t, b))
	check("second connection", 0, 1, 0)
	b.distribute(accepted(t, b)) // neither has acknowledged: it waits
	check("third connection, nobody free", 0, 0, 1)
	ack(b, lb) // child 1 took its connection first: it gets the waiting one
	check("child 1 acknowledges", 0, 1, 0)
	ack(b, la) // child 0 is free now, child 1 still busy
	b.distribute(accepted(t, b))
	check("fourth connection", 1, 0, 0)
}

// TestHandoffToADeadChild: a child that died after its last acknowledgement,
// before the supervisor read its end's EOF, cannot be sent to; it is dropped
// and the connection goes to the next free child.
func TestHandoffToADeadChild(t *testing.T) {
	b := newBalancer(t)
	la, dead := fakeLink(t, b, 0)
	lb, alive := fakeLink(t, b, 1)
	ack(b, la)
	ack(b, lb)
	_ = dead.f.Close() // the child exits: its end closes

	b.distribute(accepted(t, b))
	if got := alive.take(t); got != 1 {
		t.Errorf("the live child was handed %d connections; want 1", got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !la.gone || len(b.pending) != 0 || len(b.free) != 0 {
		t.Errorf("after a failed handoff: dead child gone %t, %d waiting, %d free; want true, 0, 0", la.gone, len(b.pending), len(b.free))
	}
}
