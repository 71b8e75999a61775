package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
)

// TestServePrintsPprofAddr: serve prints the pprof address it bound just
// before its listening line.
func TestServePrintsPprofAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, out, &bytes.Buffer{}, []string{"serve", "--model", "goroutine", "--addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1:0"})
	}()
	var lines []string
	for range 200 {
		if s := out.String(); strings.Contains(s, launch.ListeningPrefix) {
			lines = strings.Split(strings.TrimSpace(s), "\n")
			break
		}
		waitABit()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d", code)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], launch.PprofPrefix+"127.0.0.1:") || !strings.HasPrefix(lines[1], launch.ListeningPrefix) {
		t.Fatalf("serve printed %q; want the pprof line, then the listening line", lines)
	}
	if err := launch.CheckLoopback(strings.TrimPrefix(lines[0], launch.PprofPrefix)); err != nil {
		t.Error(err)
	}
}

// TestPrintProfile renders a cell with a known CPU profile.
func TestPrintProfile(t *testing.T) {
	dir := t.TempDir()
	fHash := &profile.Function{ID: 1, Name: "github.com/concbench/concbench/workloads.(*Hasher).Step"}
	fBlock := &profile.Function{ID: 2, Name: "crypto/internal/fips140/sha256.blockSHANI"}
	fLoop := &profile.Function{ID: 3, Name: "github.com/panjf2000/gnet/v2.(*eventloop).run"}
	lBlock := &profile.Location{ID: 1, Line: []profile.Line{{Function: fBlock}}}
	lHash := &profile.Location{ID: 2, Line: []profile.Line{{Function: fHash}}}
	lLoop := &profile.Location{ID: 3, Line: []profile.Line{{Function: fLoop}}}
	p := &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
		DurationNanos: 2e9,
		Function:      []*profile.Function{fHash, fBlock, fLoop},
		Location:      []*profile.Location{lBlock, lHash, lLoop},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lBlock, lHash, lLoop}, Value: []int64{80, 800_000_000}},
			{Location: []*profile.Location{lLoop}, Value: []int64{20, 200_000_000}},
		},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.cpu.pprof"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c := result.Cell{ID: "c", Model: "eventloop", Scenario: "cpu-mix", Rate: 500, DurationSec: 2,
		Validity: result.Validity{Valid: true}, Files: map[string]string{"profile:cpu": "c.cpu.pprof"},
		Server: stats.Snapshot{LoopDelay: &stats.HistSummary{Count: 200, P50Us: 15, P99Us: 40_000, MaxUs: 52_000},
			Runtime: &stats.RuntimeStats{GCCycles: 3}}}
	var out bytes.Buffer
	if err := printProfile(&out, dir, "/usr/local/bin/concbench", c, 3); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"eventloop × cpu-mix at 500 req/s, 2s window (valid)\n",
		"  loop delay      p50 15.0 µs   p99 40.0 ms   max 52.0 ms   (200 probes)\n",
		"  GC pauses       none (3 cycles)\n",
		"CPU profile: 1.00s sampled in 2.00 s (50% of one CPU)\n",
		// The hashing function has no flat time of its own: two rows only.
		"top 2 by flat time (in the function itself):\n" +
			"       flat  flat%   sum%       cum   cum%  function\n" +
			"      800ms  80.0%  80.0%     800ms  80.0%  sha256.blockSHANI\n" +
			"      200ms  20.0% 100.0%     1.00s 100.0%  gnet/v2.(*eventloop).run\n\n",
		"top 3 by cumulative time (in the function and what it calls):\n" +
			"       flat  flat%   sum%       cum   cum%  function\n" +
			"      200ms  20.0%            1.00s 100.0%  gnet/v2.(*eventloop).run\n" +
			"      800ms  80.0%            800ms  80.0%  sha256.blockSHANI\n" +
			"          0   0.0%            800ms  80.0%  workloads.(*Hasher).Step\n\n",
		"open it: go tool pprof -http=127.0.0.1:0 /usr/local/bin/concbench " + filepath.Join(dir, "c.cpu.pprof") + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "sched latency") {
		t.Errorf("output shows empty scheduling latencies:\n%s", got)
	}
	c.Files = nil
	if err := printProfile(&bytes.Buffer{}, dir, "bin", c, 2); err == nil || !strings.Contains(err.Error(), "no CPU profile") {
		t.Errorf("printProfile without a profile = %v; want an error", err)
	}
}

func TestProfileUsage(t *testing.T) {
	tests := []struct {
		cmd  []string
		want string
	}{
		{[]string{"run", "--profile", "cpu,gc"}, `concbench: run: --profile: unknown profile "gc" (one of cpu, heap, goroutine, mutex, block, trace, or all)` + "\n"},
		{[]string{"profile", "--model", "nodejs"}, `concbench: profile: --model: "nodejs" is not a Go model (one of thread, eventloop, offload, cluster, goroutine)` + "\n"},
		{[]string{"profile", "--scenario", "nope"}, `concbench: profile: --scenario: no scenario "nope" in plan quick (one of io-wait, cpu-mix, next-tick, set-immediate, redos, block, pool-flood, tiny-work)` + "\n"},
		{[]string{"profile", "--rate", "-1"}, "concbench: profile: --rate: -1 must be > 0\n"},
		{[]string{"profile", "--profile", "heap,nope"}, `concbench: profile: --profile: unknown profile "nope" (one of cpu, heap, goroutine, mutex, block, trace, or all)` + "\n"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), &stdout, &stderr, append(tt.cmd, "--out", dir))
		if code != ExitUsage || stderr.String() != tt.want {
			t.Errorf("%q = %d, %q; want %d, %q", tt.cmd, code, stderr.String(), ExitUsage, tt.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitABit() { time.Sleep(25 * time.Millisecond) }
