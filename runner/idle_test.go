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
		readings  []treeReading // then the last one repeats
		failAt    int           // read fails from this reading on (0: never)
		wantQuiet bool
		wantReads int
	}{
		{"quiet from the start", []treeReading{idle}, 0, true, 3},
		{"one tick of CPU is quiet", []treeReading{idle, {cpuSec: 1.01, rss: 50 * mib, threads: 7}, {cpuSec: 1.02, rss: 50*mib + mib/2, threads: 7}}, 0, true, 3},
		{"busy, then quiet", []treeReading{busy(1), busy(2), busy(3), busy(4), busy(4)}, 0, true, 6},
		{"threads moving reset the run", []treeReading{idle, idle, {cpuSec: 1, rss: 50 * mib, threads: 8}, {cpuSec: 1, rss: 50 * mib, threads: 8}}, 0, true, 5},
		{"RSS falling by 2 MiB is not quiet", []treeReading{{cpuSec: 1, rss: 52 * mib, threads: 7}, idle}, 0, true, 4},
		{"never quiet", nil, 0, false, 0},
		{"the server is gone", []treeReading{idle}, 2, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			read := func() (treeReading, bool) {
				reads++
				if tc.failAt > 0 && reads >= tc.failAt {
					return treeReading{}, false
				}
				if tc.readings == nil { // busy for ever
					return busy(reads), true
				}
				return tc.readings[min(reads, len(tc.readings))-1], true
			}
			_, ok := settleIdle(context.Background(), read, time.Millisecond, 50*time.Millisecond)
			if ok != tc.wantQuiet {
				t.Fatalf("quiet = %v, want %v (after %d readings)", ok, tc.wantQuiet, reads)
			}
			if tc.wantReads > 0 && reads != tc.wantReads {
				t.Errorf("readings = %d, want %d", reads, tc.wantReads)
			}
		})
	}
}

// TestSettleIdleCancelled: a cancelled run does not wait for a busy server.
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
	if _, ok := settleIdle(ctx, read, time.Millisecond, time.Hour); ok {
		t.Fatal("quiet after cancel")
	}
	if n > 4 {
		t.Errorf("read %d times after the cancel", n-3)
	}
}
