package cpuset

import (
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Set
		wantErr string
	}{
		{"1", Set{1}, ""},
		{"0,2", Set{0, 2}, ""},
		{"0-3,6", Set{0, 1, 2, 3, 6}, ""},
		{" 1 , 1-2 ", Set{1, 2}, ""},
		{"", nil, `cpu list "": bad cpu number ""`},
		{"a", nil, `cpu list "a": bad cpu number "a"`},
		{"3-1", nil, `cpu list "3-1": range 3-1 is backwards`},
		{"-1", nil, `cpu list "-1": bad cpu number ""`},
		{"1024", nil, `cpu list "1024": bad cpu number "1024"`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, _ := Parse(got.String()); !reflect.DeepEqual(back, got) {
			t.Errorf("Parse(%q.String()) = %v; want %v", got, back, got)
		}
	}
}

func TestAvailable(t *testing.T) {
	s, err := Available()
	if err != nil || len(s) == 0 {
		t.Fatalf("Available() = %v, %v; want at least one CPU", s, err)
	}
}

// affinity returns the CPUs thread or process id may run on.
func affinity(t *testing.T, id int) Set {
	t.Helper()
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(id, &m); err != nil {
		t.Fatalf("SchedGetaffinity(%d): %v", id, err)
	}
	var s Set
	for c := range 1024 {
		if m.IsSet(c) {
			s = append(s, c)
		}
	}
	return s
}

// TestPinAll narrows every thread of this process to the last available CPU
// and widens it back.
func TestPinAll(t *testing.T) {
	avail, err := Available()
	if err != nil {
		t.Skipf("no CPU affinity: %v", err)
	}
	one := Set{avail[len(avail)-1]}
	t.Cleanup(func() {
		if err := PinAll(avail); err != nil {
			t.Errorf("PinAll(%s) to restore: %v", avail, err)
		}
	})
	for _, set := range []Set{one, avail} {
		if err := PinAll(set); err != nil {
			t.Fatalf("PinAll(%s) = %v", set, err)
		}
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if got := affinity(t, tid); !reflect.DeepEqual(got, set) {
				t.Errorf("after PinAll(%s), thread %d may use %s", set, tid, got)
			}
		}
	}
	if err := PinAll(nil); err == nil {
		t.Error("PinAll(empty) = nil; want an error")
	}
}

// TestStartOn starts a child on one CPU: the child has that affinity, and this
// process keeps its own.
func TestStartOn(t *testing.T) {
	avail, err := Available()
	if err != nil {
		t.Skipf("no CPU affinity: %v", err)
	}
	one := Set{avail[len(avail)-1]}
	cmd := exec.Command("sleep", "30")
	if err := StartOn(cmd, one); err != nil {
		t.Fatalf("StartOn(sleep, %s) = %v", one, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if got := affinity(t, cmd.Process.Pid); !reflect.DeepEqual(got, one) {
		t.Errorf("child started on %s may use %s", one, got)
	}
	if got, _ := Available(); !reflect.DeepEqual(got, avail) {
		t.Errorf("after StartOn this process may use %s; want %s as before", got, avail)
	}
}
