package procstat

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestTreeAndAlive starts a child and finds it under this process; once it is
// reaped it is neither in the tree nor alive.
func TestTreeAndAlive(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if tree := Tree(os.Getpid()); tree[0] != os.Getpid() || !slices.Contains(tree, pid) {
		t.Errorf("Tree(self) = %v; want self first and child %d in it", tree, pid)
	}
	if !Alive(pid) || !Alive(os.Getpid()) {
		t.Errorf("Alive(child %d) = %t, Alive(self) = %t; want both true", pid, Alive(pid), Alive(os.Getpid()))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if Alive(pid) {
		t.Errorf("Alive(%d) = true after it was killed and reaped", pid)
	}
	if tree := Tree(os.Getpid()); slices.Contains(tree, pid) {
		t.Errorf("Tree(self) = %v still holds reaped child %d", tree, pid)
	}
}

// TestTreeGrandchild: a child's child is in the tree too (a cluster's
// supervisor under a wrapper, a user's server started by a shell).
func TestTreeGrandchild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sh: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var grandchild int
	if _, err := fmt.Fscan(out, &grandchild); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	tree := Tree(os.Getpid())
	if !slices.Contains(tree, cmd.Process.Pid) || !slices.Contains(tree, grandchild) {
		t.Errorf("Tree(self) = %v; want child %d and grandchild %d in it", tree, cmd.Process.Pid, grandchild)
	}
	if got := Tree(cmd.Process.Pid); len(got) != 2 || got[0] != cmd.Process.Pid || got[1] != grandchild {
		t.Errorf("Tree(child) = %v; want [%d %d]", got, cmd.Process.Pid, grandchild)
	}
}

func TestCtxSwitches(t *testing.T) {
	// This process has blocked at least once by now (test start-up waits on
	// goroutines), and a process that cannot exist has no threads.
	if vol, invol := CtxSwitches(os.Getpid()); vol+invol <= 0 {
		t.Errorf("CtxSwitches(self) = %d, %d; want some", vol, invol)
	}
	if vol, invol := CtxSwitches(1 << 30); vol != 0 || invol != 0 {
		t.Errorf("CtxSwitches(no such pid) = %d, %d; want 0, 0", vol, invol)
	}
}

// TestCtxSwitchesByTask: a thread that blocks between two readings shows a
// rise in its own count; a thread parked throughout shows none.
func TestCtxSwitchesByTask(t *testing.T) {
	tid := func(park <-chan struct{}, work func()) (int, chan struct{}) {
		got, done := make(chan int), make(chan struct{})
		go func() {
			runtime.LockOSThread() // the goroutine keeps its thread: the thread's count is its own
			defer runtime.UnlockOSThread()
			got <- syscall.Gettid()
			<-park
			work()
			close(done)
		}()
		return <-got, done
	}
	parked, never := make(chan struct{}), make(chan struct{})
	idle, _ := tid(never, func() {})
	defer close(never)
	busy, done := tid(parked, func() {
		for range 5 {
			time.Sleep(time.Millisecond) // each sleep blocks the thread: a voluntary switch
		}
	})
	time.Sleep(20 * time.Millisecond) // let the idle thread settle into its wait
	a, b := map[int]int64{}, map[int]int64{}
	vol, invol := CtxSwitchesByTask(os.Getpid(), a)
	var sum int64
	for _, n := range a {
		sum += n
	}
	_, hasIdle := a[idle]
	_, hasBusy := a[busy]
	if sum != vol+invol || !hasIdle || !hasBusy {
		t.Fatalf("CtxSwitchesByTask(self) = %d, %d, by task %v (sum %d); want the per-thread counts summing to the totals, both test threads in them", vol, invol, a, sum)
	}
	close(parked)
	<-done
	CtxSwitchesByTask(os.Getpid(), b)
	if b[busy] <= a[busy] {
		t.Errorf("the thread that slept 5 times went from %d to %d switches; want a rise", a[busy], b[busy])
	}
	if b[idle] != a[idle] {
		t.Errorf("the parked thread went from %d to %d switches; want none", a[idle], b[idle])
	}
}

func TestSockets(t *testing.T) {
	// Port 0 matches nothing; the TIME_WAIT count is whatever the machine has.
	if open, tw := Sockets(0); open != 0 || tw < 0 {
		t.Errorf("Sockets(0) = %d, %d", open, tw)
	}
	// A listener and both ends of one connection to it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if open, _ := Sockets(port); open != 3 {
		t.Errorf("Sockets(%d) = %d open; want 3 (listener, client, accepted)", port, open)
	}
}
