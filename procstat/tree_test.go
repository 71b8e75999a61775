package procstat

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
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
