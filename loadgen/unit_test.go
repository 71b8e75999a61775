package loadgen

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

func TestMixSeq(t *testing.T) {
	for _, tt := range []struct {
		weights []int
		block   int // length of a block after dividing by the gcd
	}{
		{[]int{1}, 1},
		{[]int{99, 1}, 100},
		{[]int{50, 50}, 2},
		{[]int{6, 3, 1}, 10},
		{[]int{9999, 1}, 10000},
		{[]int{4, 2}, 3},
	} {
		a, err := newMixSeq(tt.weights, 42)
		if err != nil {
			t.Fatalf("newMixSeq(%v, 42): %v", tt.weights, err)
		}
		b, _ := newMixSeq(tt.weights, 42)
		c, _ := newMixSeq(tt.weights, 43)
		g := 0
		for _, w := range tt.weights {
			g = gcd(g, w)
		}
		var seqA, seqC []int
		for blk := 0; blk < 3; blk++ {
			counts := make([]int, len(tt.weights))
			for range tt.block {
				x, y, z := a.next(), b.next(), c.next()
				if x != y {
					t.Fatalf("newMixSeq(%v, 42): two sequences of the same seed differ at %d: %d != %d", tt.weights, len(seqA), x, y)
				}
				counts[x]++
				seqA = append(seqA, x)
				seqC = append(seqC, z)
			}
			for i, w := range tt.weights {
				if counts[i] != w/g {
					t.Errorf("newMixSeq(%v, 42): block %d holds %d of class %d; want %d", tt.weights, blk, counts[i], i, w/g)
				}
			}
		}
		if tt.block >= 10 && slices.Equal(seqA, seqC) {
			t.Errorf("newMixSeq(%v): seeds 42 and 43 give the same sequence %v", tt.weights, seqA)
		}
	}
	for _, bad := range [][]int{nil, {0}, {1, -1}, {1 << 20, 1}} {
		if _, err := newMixSeq(bad, 1); err == nil {
			t.Errorf("newMixSeq(%v, 1) = nil error; want one", bad)
		}
	}
}

func TestSchedule(t *testing.T) {
	for _, rate := range []float64{1, 200, 333, 12.5, 30000, 0.5} {
		s := newSchedule(rate, 0, 1<<62, 1<<40, nil)
		for _, n := range []uint64{0, 1, 2, 99, 12345} {
			// At elapsed 0 the pacer waits exactly until tick n is due.
			want, _ := s.Pace(0, n)
			if got := s.at(n); got != want {
				t.Errorf("rate %g: at(%d) = %s; want %s (Pace(0, %d) over ConstantPacer%+v)", rate, n, got, want, n, s.inner)
			}
			if d := s.slotEnd(n) - s.at(n); d != s.half {
				t.Errorf("rate %g: tick %d due %s before its slot ends; want half an interval, %s", rate, n, d, s.half)
			}
		}
		// Ticks due in (W, W+D] number rate·D.
		w, d := 750*time.Millisecond, 2*time.Second
		if got, want := s.after(w+d)-s.after(w), uint64(rate*d.Seconds()); got != want && time.Second%s.interval == 0 {
			t.Errorf("rate %g: %d ticks due in (%s, %s]; want %d", rate, got, w, w+d, want)
		}
		for _, n := range []uint64{0, 5, 77} {
			if got := s.after(s.at(n)); got != n+1 {
				t.Errorf("rate %g: after(at(%d)) = %d; want %d", rate, n, got, n+1)
			}
			if got := s.after(s.at(n) - 1); got != n {
				t.Errorf("rate %g: after(at(%d)-1ns) = %d; want %d", rate, n, got, n)
			}
		}
	}
	s := newSchedule(100, 0, time.Second, 5, nil)
	for hits := uint64(0); hits < 5; hits++ {
		if _, stop := s.Pace(0, hits); stop {
			t.Fatalf("Pace(0, %d) stopped before max 5", hits)
		}
	}
	if _, stop := s.Pace(0, 5); !stop || s.stopReason() != "max_requests" {
		t.Errorf("Pace(0, 5) with max 5 = (_, %t), reason %q; want (_, true), \"max_requests\"", stop, s.stopReason())
	}
	s = newSchedule(100, 0, time.Second, 1000, nil)
	if _, stop := s.Pace(0, 99); stop { // due at 995ms: the window's last tick
		t.Errorf("Pace(0, 99) at 100/s over 1s stopped; want the tick due at 995ms sent")
	}
	if _, stop := s.Pace(0, 100); !stop || s.stopReason() != "duration" {
		t.Errorf("Pace(0, 100) at 100/s over 1s = (_, %t), reason %q; want (_, true), \"duration\"", stop, s.stopReason())
	}
	var _ vegeta.Pacer = s
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		code      uint16
		msg       string
		kind      string
		exhausted bool
	}{
		{503, "503 Service Unavailable", KindStatus5xx, false},
		{404, "404 Not Found", KindStatus4xx, false},
		{101, "101 Switching Protocols", KindOther, false},
		{0, `Get "http://127.0.0.1:1/plain": dial tcp 127.0.0.1:1: connect: connection refused`, KindRefused, false},
		{0, `Get "http://127.0.0.1:1/plain": dial tcp4 127.0.0.1:1: connect: connection refused`, KindRefused, false},
		{0, `Get "http://127.0.0.1:8/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, KindTimeout, false},
		{0, `Get "http://127.0.0.1:8/slow": timeout`, KindTimeout, false},
		{0, `Get "http://127.0.0.1:8/x": read tcp 127.0.0.1:4->127.0.0.1:8: read: connection reset by peer`, KindReset, false},
		{0, `Get "http://127.0.0.1:8/x": EOF`, KindReset, false},
		{0, `Get "http://127.0.0.1:8/x": fasthttp: the server closed connection before returning the first response byte. make sure the server returns 'connection: close' response header before closing the connection`, KindReset, false},
		{0, `Get "http://127.0.0.1:8/x": write tcp 127.0.0.1:4->127.0.0.1:8: write: broken pipe`, KindReset, false},
		{0, `Get "http://127.0.0.1:8/x": dial tcp 127.0.0.1:8: connect: cannot assign requested address`, KindOther, true},
		{0, `Get "http://127.0.0.1:8/x": dial tcp 127.0.0.1:8: socket: too many open files`, KindOther, true},
		{0, `Get "http://127.0.0.1:8/x": malformed HTTP response "garbage"`, KindOther, false},
	} {
		k, ex := classify(tt.code, tt.msg)
		if kinds[k] != tt.kind || ex != tt.exhausted {
			t.Errorf("classify(%d, %q) = (%s, %t); want (%s, %t)", tt.code, tt.msg, kinds[k], ex, tt.kind, tt.exhausted)
		}
	}
}

func TestJudge(t *testing.T) {
	// A healthy cell: 1000 req/s for 10 s, everything sent and answered.
	ok := verdictInput{
		offered: 1000, measured: 10 * time.Second, due: 10000, sent: 10000, answers: 9999,
		lagP99: 200 * time.Microsecond, poolFull: 0, peak: 12, maxConns: 64,
		gen: Generator{CPUs: 1, CPUShare: 0.3}, stop: "duration",
	}
	for _, tt := range []struct {
		name   string
		change func(*verdictInput)
		valid  bool
		over   bool
		reason string // in the first reason
	}{
		{"healthy", func(*verdictInput) {}, true, false, ""},
		{"(a) generator too slow, pool free", func(v *verdictInput) { v.sent, v.answers = 8000, 8000 }, false, false, "sent 800 req/s, 80.0%"},
		{"(a) not applied when the pool is saturated", func(v *verdictInput) { v.sent, v.answers, v.poolFull, v.peak = 8000, 8000, 0.6, 64 }, true, true, "Over capacity: all 64 connections were busy for 60.0%"},
		{"(b) late, pool free", func(v *verdictInput) { v.lagP99 = 25 * time.Millisecond }, false, false, "dispatch lag p99 was 25.00 ms"},
		{"(b) a moment at the bound does not excuse lag", func(v *verdictInput) { v.lagP99, v.poolFull, v.peak = 25*time.Millisecond, 0.002, 64 }, false, false, "dispatch lag p99"},
		{"(b) not applied when the pool is saturated", func(v *verdictInput) { v.lagP99, v.poolFull = 25*time.Millisecond, 0.5 }, true, true, "Over capacity"},
		{"(b) the requests that found a connection free were late too", func(v *verdictInput) {
			v.lagP99, v.poolFull, v.peak, v.freeP99, v.freeN = 25*time.Millisecond, 0.02, 64, 15*time.Millisecond, 5000
		}, false, false, "dispatch lag p99 of the 5000 requests that found a connection free was 15.00 ms"},
		{"(b) too few found a connection free for a p99", func(v *verdictInput) {
			v.lagP99, v.poolFull, v.peak, v.freeP99, v.freeN = 25*time.Millisecond, 0.5, 64, 15*time.Millisecond, 200
		}, true, true, "Over capacity"},
		{"(c) port exhaustion", func(v *verdictInput) {
			v.gen.ExhaustionErrors, v.gen.ExhaustionSample = 3, "connect: cannot assign requested address"
		}, false, false, "3 requests failed because the generator ran out of local ports"},
		{"(d) above 70% of the ceiling", func(v *verdictInput) { v.ceiling = 1200 }, false, false, "83% of this generator's ceiling of 1200 req/s"},
		{"(d) below 70% of the ceiling", func(v *verdictInput) { v.ceiling = 2000 }, true, false, ""},
		{"(e) generator CPU saturated", func(v *verdictInput) { v.gen.CPUShare = 0.97 }, false, false, "used 97% of its 1 CPU(s)"},
		{"(e) generator starved of CPU, pool looking full", func(v *verdictInput) {
			v.gen.HiccupP99, v.gen.HiccupMax, v.poolFull, v.peak = 12*time.Millisecond, 60*time.Millisecond, 0.2, 64
		}, false, false, "the generator stalled 12.00 ms or more for 1% of the window (hiccup p99; max 60.00 ms)"},
		{"(f) nothing measured", func(v *verdictInput) { v.measured, v.due, v.stop = 0, 0, "context" }, false, false, "nothing was measured"},
		{"(g) server saturated", func(v *verdictInput) { v.poolFull, v.peak = 0.02, 64 }, true, true, "Over capacity: all 64 connections were busy for 2.0%"},
		{"(h) answers missing", func(v *verdictInput) { v.answers, v.errors = 0, 10000 }, true, true, "0 answers/s, 0.0% of the 1000 req/s offered, while 100.0% were sent"},
		{"(h) one answer short is the window's edge", func(v *verdictInput) { v.due, v.sent, v.answers = 10, 10, 9 }, true, false, ""},
	} {
		in := ok
		tt.change(&in)
		v := judge(in)
		if v.Valid != tt.valid || v.OverCapacity != tt.over {
			t.Errorf("%s: judge(%+v) = valid %t, over capacity %t; want %t, %t (reasons %q)", tt.name, in, v.Valid, v.OverCapacity, tt.valid, tt.over, v.Reasons)
			continue
		}
		if wantCause := map[bool]string{true: "", false: result.CauseGenerator}[tt.valid]; v.Cause != wantCause {
			t.Errorf("%s: cause %q; want %q", tt.name, v.Cause, wantCause)
		}
		// Only the machine's state (a, b, e) is worth a rerun; the
		// configuration (c, d, f) would flag it again.
		// A generator whose own work filled its CPUs is not either, without
		// host steal.
		wantTransient := !tt.valid && strings.HasPrefix(tt.name, "(a)") || strings.HasPrefix(tt.name, "(b)") && !tt.valid || strings.HasPrefix(tt.name, "(e) generator starved")
		if v.Transient != wantTransient {
			t.Errorf("%s: transient %t; want %t", tt.name, v.Transient, wantTransient)
		}
		if tt.reason == "" {
			if len(v.Reasons) != 0 {
				t.Errorf("%s: reasons %q; want none", tt.name, v.Reasons)
			}
			continue
		}
		if len(v.Reasons) == 0 || !strings.Contains(v.Reasons[0], tt.reason) {
			t.Errorf("%s: reasons %q; want the first to contain %q", tt.name, v.Reasons, tt.reason)
		}
		if !v.Valid && in.due > 0 && !strings.HasPrefix(v.Reasons[len(v.Reasons)-1], "Evidence: generator CPU") {
			t.Errorf("%s: reasons %q; want the generator's evidence last", tt.name, v.Reasons)
		}
	}

	// Stalls while the host stole the generator's CPU name the hypervisor;
	// stalls without steal do not.
	in := ok
	in.gen.HiccupP99, in.gen.HiccupMax = 8*time.Millisecond, 12*time.Millisecond
	in.gen.StealShare, in.gen.StealCPUs = 0.21, []int{0}
	if v := judge(in); v.Valid || !v.Transient || !strings.Contains(v.Reasons[0], "by the hypervisor: it stole 21.0% of CPU(s) 0") ||
		!strings.Contains(v.Reasons[len(v.Reasons)-1], "host steal 21.0% of CPU(s) 0") {
		t.Errorf("stalls with 21%% steal: %+v; want the hypervisor named, in the verdict and the evidence", v)
	}
	in.gen.StealShare = 0.005
	if v := judge(in); v.Valid || strings.Contains(v.Reasons[0], "hypervisor") {
		t.Errorf("stalls with 0.5%% steal: %q; want no hypervisor named", v.Reasons)
	}
	// A generator whose CPUs were full is worth a rerun only when the host
	// took part of them.
	in = ok
	in.gen.CPUShare, in.gen.StealShare = 0.95, 0.2
	if v := judge(in); v.Valid || !v.Transient {
		t.Errorf("CPU full with 20%% steal: %+v; want generator-bound, transient", v)
	}

	// (d) is a fact of the configuration: it holds when nothing was measured
	// too, after (f).
	in = ok
	in.measured, in.due, in.stop, in.ceiling = 0, 0, "context", 1200
	v := judge(in)
	if v.Valid || v.Cause != result.CauseGenerator || len(v.Reasons) != 2 ||
		!strings.Contains(v.Reasons[0], "nothing was measured") || !strings.Contains(v.Reasons[1], "83% of this generator's ceiling of 1200 req/s") {
		t.Errorf("judge(%+v) = %+v; want generator-bound for (f), then (d)", in, v)
	}
	if v.Transient {
		t.Errorf("(f) then (d): transient; want not (a rerun would fail alike)")
	}
}

func TestNormalize(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:8080", Rate: 10, Duration: time.Second}
	for _, tt := range []struct {
		change func(*Config)
		err    string
	}{
		{func(*Config) {}, ""},
		{func(c *Config) { c.BaseURL = "http://localhost:1" }, ""},
		{func(c *Config) { c.BaseURL = "http://[::1]:1" }, ""},
		{func(c *Config) { c.BaseURL = "http://10.0.0.1:80" }, "refusing to attack 10.0.0.1:80: not a loopback address"},
		{func(c *Config) { c.BaseURL = "http://example.com" }, "refusing to attack example.com"},
		{func(c *Config) { c.BaseURL, c.AllowRemote = "http://10.0.0.1:80", true }, ""},
		{func(c *Config) { c.BaseURL = "127.0.0.1:80" }, "want http://HOST:PORT"},
		{func(c *Config) { c.Rate = 0 }, "rate 0 req/s: want > 0"},
		{func(c *Config) { c.Rate = 2e7 }, "want > 0 and ≤ 1e+07"},
		{func(c *Config) { c.Duration = 0 }, "duration 0s: want > 0"},
		{func(c *Config) { c.Warmup = -1 }, "warmup -1ns"},
		{func(c *Config) { c.CellID = "a/b" }, "without slashes"},
		{func(c *Config) { c.Pacing = PacingVegeta }, ""},
		{func(c *Config) { c.Pacing = "spin" }, `pacing "spin": want "precise" or "vegeta"`},
	} {
		c := good
		tt.change(&c)
		_, err := c.normalize()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Config%+v.normalize() = %v; want an error containing %q", c, err, tt.err)
		}
	}
	c := good
	c.Warmup = time.Second
	if _, err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 64 || c.MaxWorkers != 64 || c.Timeout != 10*time.Second || c.MaxRequests != 122 || c.Transport != DefaultTransport || c.Pacing != PacingPrecise {
		t.Errorf("defaults: %+v; want 64 connections and workers, 10s timeout, 122 max requests, transport %s, pacing %s", c, DefaultTransport, PacingPrecise)
	}
}

func TestClassURLs(t *testing.T) {
	for _, tt := range []struct {
		mix string // name:target:weight,...
		err string
	}{
		{"plain:/plain:99,cpu:/cpu?iters=200000:1", ""},
		{"plain:plain:1", ""},
		{"", "empty mix"},
		{"a:/x:1,b:/x:1", `classes "a" and "b" have the same target`},
		{"a:/x:1,a:/y:1", `class "a" appears twice`},
		{"a:/x:0", "weight 0, want > 0"},
	} {
		var mix []plan.Class
		for _, f := range strings.Split(tt.mix, ",") {
			if f == "" {
				continue
			}
			p := strings.SplitN(f, ":", 3)
			var w int
			fmt.Sscan(p[2], &w)
			mix = append(mix, plan.Class{Name: p[0], Target: p[1], Weight: w})
		}
		_, err := classURLs("http://127.0.0.1:1/", mix)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("classURLs(%s) = %v; want an error containing %q", tt.mix, err, tt.err)
		}
	}
}

func TestFlight(t *testing.T) {
	f := newFlight(2)
	now := time.Now()
	f.setWindow(now.Add(-time.Hour), now.Add(time.Hour))
	f.inc()
	f.inc() // the pool is full
	time.Sleep(20 * time.Millisecond)
	if n, peak, full := f.stats(); n != 2 || peak != 2 || full < 20*time.Millisecond {
		t.Errorf("stats() while full = (%d, %d, %s); want (2, 2, ≥ 20ms)", n, peak, full)
	}
	f.dec()
	_, _, full := f.stats()
	time.Sleep(10 * time.Millisecond)
	if _, _, again := f.stats(); again != full {
		t.Errorf("time at bound grew from %s to %s while the pool was not full", full, again)
	}
	f.dec()
	if n, peak, _ := f.stats(); n != 0 || peak != 2 {
		t.Errorf("stats() after all ended = (%d, %d, _); want (0, 2, _)", n, peak)
	}

	// Outside the window, nothing counts.
	f = newFlight(1)
	f.setWindow(now.Add(time.Hour), now.Add(2*time.Hour))
	f.inc()
	time.Sleep(5 * time.Millisecond)
	f.dec()
	if _, peak, full := f.stats(); peak != 0 || full != 0 {
		t.Errorf("stats() before the window = (_, %d, %s); want (_, 0, 0s)", peak, full)
	}
}

func TestHiccupMeter(t *testing.T) {
	m := startHiccups()
	now := time.Now()
	m.setWindow(now, now.Add(time.Hour))
	time.Sleep(200 * time.Millisecond)
	h := m.finish()
	// About 200 wake-ups of 1 ms, more if a stall was back-filled.
	if n := h.TotalCount(); n < 50 {
		t.Errorf("hiccup meter recorded %d wake-ups in 200 ms; want about 200", n)
	}
}

// TestShardSchedules checks that the ticks of N shards, each at rate/N with
// its phase, interleave into the whole schedule's: the union of their due
// times within a window is the whole schedule's, tick for tick.
func TestShardSchedules(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		n    int
	}{{1000, 1}, {1000, 2}, {300, 3}, {100, 4}, {20000, 2}} {
		whole := newSchedule(tt.rate, 0, 1<<62, 1<<40, nil)
		var got []time.Duration
		for i := range tt.n {
			cfg := Config{Rate: tt.rate}
			if err := (Shard{i, tt.n}).Apply(&cfg); err != nil {
				t.Fatal(err)
			}
			s := newSchedule(cfg.Rate, cfg.Phase, 1<<62, 1<<40, nil)
			for k := uint64(0); s.at(k) <= time.Second; k++ {
				got = append(got, s.at(k))
			}
		}
		slices.Sort(got)
		var want []time.Duration
		for k := uint64(0); whole.at(k) <= time.Second; k++ {
			want = append(want, whole.at(k))
		}
		if len(got) != len(want) {
			t.Errorf("%d shards of %g req/s: %d ticks in the first second; want %d", tt.n, tt.rate, len(got), len(want))
			continue
		}
		for k := range got {
			if d := got[k] - want[k]; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("%d shards of %g req/s: tick %d due at %s; want %s", tt.n, tt.rate, k, got[k], want[k])
				break
			}
		}
	}
	for _, bad := range []Shard{{0, 0}, {2, 2}, {-1, 3}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Shard%+v.Validate() = nil; want an error", bad)
		}
	}
}

// TestMicrosClamped: values up to an hour are kept, longer ones clamped and
// reported as such.
func TestMicrosClamped(t *testing.T) {
	for _, tc := range []struct {
		d       time.Duration
		want    int64
		clamped bool
	}{
		{0, histMin, false},
		{90 * time.Second, 90_000_000, false},
		{time.Hour, histMax, false},
		{2 * time.Hour, histMax, true},
	} {
		if v, c := micros(tc.d); v != tc.want || c != tc.clamped {
			t.Errorf("micros(%s) = (%d, %t); want (%d, %t)", tc.d, v, c, tc.want, tc.clamped)
		}
	}
}

// TestMixSeed: a cell's seed is the same for every model of a repetition (the
// models are sent the same sequence) and differs between repetitions,
// scenarios and rates.
func TestMixSeed(t *testing.T) {
	base := MixSeed("cpu-mix", 200, 1)
	if base != MixSeed("cpu-mix", 200, 1) {
		t.Fatal("MixSeed is not deterministic")
	}
	if base < 0 {
		t.Errorf("MixSeed = %d, want ≥ 0", base)
	}
	for _, other := range []int64{MixSeed("cpu-mix", 200, 2), MixSeed("redos", 200, 1), MixSeed("cpu-mix", 400, 1), MixSeed("cpu-mix", 200.5, 1)} {
		if other == base {
			t.Errorf("two cells share the seed %d", base)
		}
	}
}
