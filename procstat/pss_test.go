package procstat

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParsePSS(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  string
	}{
		{"55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  1500 kB\nPss:  1234 kB\nPss_Anon: 800 kB\n", 1234 * 1024, ""},
		{"Rss: 1 kB\nPss_Anon: 800 kB\n", 0, "no Pss line"},
		{"Pss: x kB\n", 0, `bad Pss "x"`},
	} {
		got, err := parsePSS([]byte(tt.in))
		if got != tt.want || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("parsePSS(%q) = %d, %v; want %d, error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestPSSBelowRSSForACluster: two processes of one binary share its text and
// libraries, so their summed PSS (shared pages split between them) is below
// their summed RSS (shared pages counted in each), as for a cluster's
// workers.
func TestPSSBelowRSSForACluster(t *testing.T) {
	var rss, pss int64
	for range 2 {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start sleep: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		// Read it once it runs sleep: between fork and exec it is a copy of
		// this test process, whose pages move under the reads.
		waitExec(t, cmd.Process.Pid, "sleep")
		s, err := Read(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		p, err := PSS(cmd.Process.Pid)
		if err != nil {
			t.Skipf("no smaps_rollup: %v", err)
		}
		if p <= 0 || p > s.RSSBytes {
			t.Errorf("process %d: PSS %d, RSS %d; want 0 < PSS ≤ RSS", cmd.Process.Pid, p, s.RSSBytes)
		}
		rss += s.RSSBytes
		pss += p
	}
	if pss >= rss {
		t.Errorf("two processes of one binary: summed PSS %d, RSS %d; want PSS < RSS", pss, rss)
	}
}

// waitExec waits until process pid runs the program named comm and sleeps
// in it (state S): the loader has mapped what it maps, so RSS and PSS hold
// still between the two reads.
func waitExec(t *testing.T, pid int, comm string) {
	t.Helper()
	for range 1000 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil && strings.Contains(string(b), "("+comm+") S ") {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d never ran %s", pid, comm)
}
