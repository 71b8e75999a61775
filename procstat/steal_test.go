package procstat

import (
	"math"
	"testing"
)

func TestParseCPUTimes(t *testing.T) {
	b := []byte(`cpu  1135978 0 384887 1489149 2493 0 68448 42824 0 0
cpu0 100 0 50 800 10 0 20 20 7 0
cpu1 200 5 60 700 0 0 15 0 0 0
intr 1 2 3
`)
	got, err := parseCPUTimes(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CPUTimes{Total: 1000, Steal: 20}); got[0] != want {
		t.Errorf("cpu0 = %+v, want %+v (guest is in user already)", got[0], want)
	}
	if want := (CPUTimes{Total: 980, Steal: 0}); got[1] != want {
		t.Errorf("cpu1 = %+v, want %+v", got[1], want)
	}
	if _, err := parseCPUTimes([]byte("cpu 1 2 3\n")); err == nil {
		t.Error("no per-CPU line: no error")
	}
	if _, err := parseCPUTimes([]byte("cpu0 1 x 3\n")); err == nil {
		t.Error("a bad number: no error")
	}
}

func TestStealShare(t *testing.T) {
	from := map[int]CPUTimes{0: {Total: 1000, Steal: 20}, 1: {Total: 1000, Steal: 0}}
	to := map[int]CPUTimes{0: {Total: 1100, Steal: 45}, 1: {Total: 1100, Steal: 5}}
	for _, tc := range []struct {
		cpus []int
		want float64
	}{
		{[]int{0}, 0.25},
		{[]int{1}, 0.05},
		{[]int{0, 1}, 0.15},
		{[]int{7}, 0}, // unknown CPU
		{nil, 0},
	} {
		if got := StealShare(from, to, tc.cpus); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("StealShare(%v) = %v, want %v", tc.cpus, got, tc.want)
		}
	}
	if got := StealShare(from, from, []int{0}); got != 0 {
		t.Errorf("no tick in between: %v, want 0", got)
	}
}

func TestReadCPUTimes(t *testing.T) {
	times, err := ReadCPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := times[0]; !ok {
		t.Errorf("no cpu0 line in %v", times)
	}
}
