package procstat

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	status := []byte("Name:\tconcbench\nThreads:\t7\nVmRSS:\t   20480 kB\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n")
	// The command name may hold spaces and parentheses.
	stat := []byte("42 (con) (bench) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 7 0 1000 0 0")
	var s Sample
	if err := parseStatus(status, &s); err != nil {
		t.Fatal(err)
	}
	if err := parseStat(stat, &s); err != nil {
		t.Fatal(err)
	}
	want := Sample{UserSec: 2.5, SysSec: 0.75, RSSBytes: 20480 * 1024, Threads: 7, VoluntaryCtx: 12, InvoluntaryCtx: 3}
	if s != want {
		t.Errorf("parsed %+v; want %+v", s, want)
	}
	if err := parseStatus([]byte("Name:\tx\n"), &s); err == nil {
		t.Error("parseStatus without VmRSS/Threads: no error")
	}
	if err := parseStat([]byte("42 (x) S 1"), &s); err == nil {
		t.Error("parseStat with too few fields: no error")
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Threads < 1 || s.RSSBytes <= 0 {
		t.Errorf("Read(self) = %+v; want threads ≥ 1 and RSS > 0", s)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Error("Read of a pid that cannot exist: no error")
	}
}
