package runner

import (
	"context"
	"testing"
	"time"
)

func TestSettleIdle(t *testing.T) {
	const mib = 1 << 20
	idle := treeReading{cpuSec: 1, rss: 50 * mib, threads: 7}
	busy := func(i int) treeReading { // a worker booting: CPU and RSS climb
		return treeReading{cpuSec: 1 + 0.05*float64(i), rss: int64(50+4*i) * mib, threads: 7 + i}
	}
	tests := []struct {
		name      string
		readings  []treeReading // then the last one repeats; nil: busy for ever
		failAt    int           // read fails from this reading on (0: never)
		maxWait   time.Duration
		want      idleOutcome
		wantReads int
	}{
		{"quiet from the start", []treeReading{idle}, 0, time.Hour, idleQuiet, 3},
		{"one tick of CPU is quiet", []treeReading{idle, {cpuSec: 1.01, rss: 50 * mib, threads: 7}, {cpuSec: 1.02, rss: 50*mib + mib/2, threads: 7}}, 0, time.Hour, idleQuiet, 3},
		{"busy, then quiet", []treeReading{busy(1), busy(2), busy(3), busy(4), busy(4)}, 0, time.Hour, idleQuiet, 6},
		{"threads moving reset the run", []treeReading{idle, idle, {cpuSec: 1, rss: 50 * mib, threads: 8}, {cpuSec: 1, rss: 50 * mib, threads: 8}}, 0, time.Hour, idleQuiet, 5},
		{"RSS falling by 2 MiB is not quiet", []treeReading{{cpuSec: 1, rss: 52 * mib, threads: 7}, idle}, 0, time.Hour, idleQuiet, 4},
		{"never quiet", nil, 0, 20 * time.Millisecond, idleBusy, 0},
		{"the server is gone", []treeReading{idle}, 2, time.Hour, idleUnreadable, 2},
		{"unreadable from the start", []treeReading{idle}, 1, time.Hour, idleUnreadable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			read := func() (treeReading, bool) {
				reads++
				if tc.failAt > 0 && reads >= tc.failAt {
					return treeReading{}, false
				}
				if tc.readings == nil {
					return busy(reads), true
				}
				return tc.readings[min(reads, len(tc.readings))-1], true
			}
			_, got := settleIdle(context.Background(), read, time.Millisecond, tc.maxWait)
			if got != tc.want {
				t.Fatalf("outcome = %d, want %d (after %d readings)", got, tc.want, reads)
			}
			if tc.wantReads > 0 && reads != tc.wantReads {
				t.Errorf("readings = %d, want %d", reads, tc.wantReads)
			}
		})
	}
}

// TestQuiet pins the thresholds of a quiet step at their edges.
func TestQuiet(t *testing.T) {
	const mib = 1 << 20
	a := treeReading{cpuSec: 3, rss: 40 * mib, threads: 9}
	tests := []struct {
		name string
		b    treeReading
		want bool
	}{
		{"unchanged", a, true},
		{"one tick", treeReading{cpuSec: 3.01, rss: 40 * mib, threads: 9}, true},
		{"two ticks", treeReading{cpuSec: 3.02, rss: 40 * mib, threads: 9}, false},
		{"RSS up 1 MiB", treeReading{cpuSec: 3, rss: 41 * mib, threads: 9}, true},
		{"RSS up 1 MiB and a byte", treeReading{cpuSec: 3, rss: 41*mib + 1, threads: 9}, false},
		{"RSS down 1 MiB and a byte", treeReading{cpuSec: 3, rss: 39*mib - 1, threads: 9}, false},
		{"a thread more", treeReading{cpuSec: 3, rss: 40 * mib, threads: 10}, false},
		{"a thread less", treeReading{cpuSec: 3, rss: 40 * mib, threads: 8}, false},
	}
	for _, tc := range tests {
		if got := quiet(a, tc.b); got != tc.want {
			t.Errorf("%s: quiet = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSettleIdleCancelled: a cancelled run does not wait for a busy server,
// nor read it again.
func TestSettleIdleCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	read := func() (treeReading, bool) {
		n++
		if n == 3 {
			cancel()
		}
		return treeReading{cpuSec: float64(n)}, true
	}
	if _, got := settleIdle(ctx, read, time.Millisecond, time.Hour); got != idleCancelled {
		t.Fatalf("outcome = %d, want cancelled", got)
	}
	if n != 3 {
		t.Errorf("read %d times after the cancel", n-3)
	}
}
