package workloads

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCalibrate(t *testing.T) {
	c, err := Calibrate(context.Background(), 20*time.Millisecond, []int{4, 6}, time.Second)
	if err != nil {
		t.Fatalf("Calibrate(20ms, [4 6], 1s) = _, %v; want nil", err)
	}
	if c.ItersPerMs <= 0 {
		t.Errorf("Calibrate(20ms, [4 6], 1s).ItersPerMs = %v; want > 0", c.ItersPerMs)
	}
	if len(c.Regex) != 2 {
		t.Fatalf("Calibrate(20ms, [4 6], 1s).Regex = %+v; want 2 timings", c.Regex)
	}
	for i, n := range []int{4, 6} {
		if got := c.Regex[i]; got.N != n || got.Backtrack <= 0 || got.RE2 <= 0 || got.Backtrack > time.Second || got.RE2 > time.Second {
			t.Errorf("Calibrate(20ms, [4 6], 1s).Regex[%d] = %+v; want N=%d and two timings in (0, 1s]", i, got, n)
		}
	}
}

func TestCalibrateStopsOnSlowMatch(t *testing.T) {
	// Every match takes longer than a maxMatch of 1ns, so only the first n is measured.
	c, err := Calibrate(context.Background(), time.Millisecond, []int{4, 6, 8}, time.Nanosecond)
	if err != nil {
		t.Fatalf("Calibrate(1ms, [4 6 8], 1ns) = _, %v; want nil", err)
	}
	if len(c.Regex) != 1 || c.Regex[0].N != 4 {
		t.Errorf("Calibrate(1ms, [4 6 8], 1ns).Regex = %+v; want just n=4", c.Regex)
	}
}

func TestCalibrateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	for _, budget := range []time.Duration{0, 20 * time.Millisecond, time.Hour} {
		if _, err := Calibrate(ctx, budget, []int{4, 6}, time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("Calibrate(cancelled, %v, [4 6], 1s) = _, %v; want %v", budget, err, context.Canceled)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Calibrate(cancelled, ...) took %v; want it to return at once", d)
	}
}
