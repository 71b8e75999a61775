package runner

import (
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
)

// TestSubtract: the window's histogram is the end reading minus the start one.
func TestSubtract(t *testing.T) {
	h := servers.NewHistogram()
	for range 100 {
		h.Record(time.Millisecond)
	}
	start := h.Summary()
	for range 10 {
		h.Record(500 * time.Millisecond)
	}
	end := h.Summary()
	d, err := subtract(end, start)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count != 10 || d.P50Us < 499000 || d.P50Us > 501000 {
		t.Errorf("subtract = count %d p50 %dµs; want 10 values of 500ms", d.Count, d.P50Us)
	}
	back, err := d.Decode()
	if err != nil || back.TotalCount() != 10 {
		t.Errorf("the difference's encoding decodes to %v, %v", back, err)
	}
	// Nothing before the window: the whole histogram.
	if d, err := subtract(end, stats.HistSummary{}); err != nil || d.Count != 110 {
		t.Errorf("subtract(end, zero) = %d values, %v; want 110", d.Count, err)
	}
	oh := hdrhistogram.New(1, 1000, 2)
	_ = oh.RecordValue(5)
	other := stats.Summarize(oh)
	if _, err := subtract(end, other); err == nil {
		t.Errorf("subtract of histograms of different ranges: no error")
	}
}

// TestSubtractReset: readings that are not of one cumulative histogram (it was
// reset in between, or they are of different processes) have no difference:
// subtract says so instead of clamping the buckets that went negative, and
// narrow keeps the whole histogram with a note.
func TestSubtractReset(t *testing.T) {
	before := servers.NewHistogram()
	for range 100 {
		before.Record(time.Millisecond)
	}
	start := before.Summary()
	fewer := servers.NewHistogram() // reset, then 10 values
	more := servers.NewHistogram()  // reset, then 150 values elsewhere
	for range 10 {
		fewer.Record(500 * time.Millisecond)
	}
	for range 150 {
		more.Record(500 * time.Millisecond)
	}
	for name, end := range map[string]stats.HistSummary{"fewer values": fewer.Summary(), "a bucket went down": more.Summary()} {
		if d, err := subtract(end, start); err == nil {
			t.Errorf("%s: subtract = %d values, no error; want an error", name, d.Count)
		}
	}
	e := more.Summary()
	child := stats.Snapshot{PIDs: []int{7}, LoopDelay: &e}
	got, notes := narrow(&stats.Snapshot{Procs: []stats.Snapshot{child}},
		&stats.Snapshot{Procs: []stats.Snapshot{{PIDs: []int{7}, LoopDelay: &start}}})
	if len(notes) != 1 || !strings.Contains(notes[0], "loop delay not narrowed to the window") || got.Procs[0].LoopDelay.Count != 150 {
		t.Errorf("narrow of a reset histogram: %d values, notes %q; want the whole 150 and a note", got.Procs[0].LoopDelay.Count, notes)
	}
}

func TestNarrow(t *testing.T) {
	h := servers.NewHistogram()
	h.Record(time.Millisecond)
	s0 := h.Summary()
	h.Record(2 * time.Second)
	s1 := h.Summary()
	start := &stats.Snapshot{Model: "offload", LoopDelay: &s0, Pool: &stats.PoolStats{QueueWait: s0},
		Procs: []stats.Snapshot{{PIDs: []int{7}, LoopDelay: &s0}}}
	end := &stats.Snapshot{Model: "offload", LoopDelay: &s1, Pool: &stats.PoolStats{QueueWait: s1, Workers: 4},
		Procs: []stats.Snapshot{{PIDs: []int{7}, LoopDelay: &s1}, {PIDs: []int{8}, LoopDelay: &s1}}}
	got, notes := narrow(end, start)
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	if got.LoopDelay.Count != 1 || got.Pool.QueueWait.Count != 1 || got.Pool.Workers != 4 {
		t.Errorf("narrowed loop delay %d, queue wait %d values; want 1, 1", got.LoopDelay.Count, got.Pool.QueueWait.Count)
	}
	if got.Procs[0].LoopDelay.Count != 1 || got.Procs[1].LoopDelay.Count != 2 {
		t.Errorf("children: %d and %d values; want 1 (narrowed) and 2 (born in the window)", got.Procs[0].LoopDelay.Count, got.Procs[1].LoopDelay.Count)
	}
	if end.LoopDelay.Count != 2 || end.Pool.QueueWait.Count != 2 {
		t.Errorf("narrow modified its argument")
	}
	if _, notes := narrow(end, nil); len(notes) != 1 {
		t.Errorf("narrow without a start reading: notes %q; want one", notes)
	}
}

func TestBracket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	xs := []time.Time{at(0), at(250 * time.Millisecond), at(500 * time.Millisecond), at(750 * time.Millisecond), at(time.Second)}
	id := func(x time.Time) time.Time { return x }
	tests := []struct {
		start, end          time.Duration
		wantFirst, wantLast int
	}{
		{300 * time.Millisecond, 800 * time.Millisecond, 1, 3},
		{-time.Second, 100 * time.Millisecond, 0, 0},
		{0, 2 * time.Second, 0, 4},
		{2 * time.Second, 3 * time.Second, 4, 4},
	}
	for _, tt := range tests {
		f, l := bracket(xs, id, at(tt.start), at(tt.end))
		if f != tt.wantFirst || l != tt.wantLast {
			t.Errorf("bracket(%s, %s) = (%d, %d); want (%d, %d)", tt.start, tt.end, f, l, tt.wantFirst, tt.wantLast)
		}
	}
	if f, l := bracket(nil, id, t0, t0); f != -1 || l != -1 {
		t.Errorf("bracket(nil) = (%d, %d); want (-1, -1)", f, l)
	}
}

func TestResources(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &sampler{}
	// Two processes; the second is born mid-window (a restarted cluster child).
	for i := 0; i <= 8; i++ {
		ps := procSample{at: t0.Add(time.Duration(i) * 250 * time.Millisecond), cpu: map[int]float64{1: 0.1 * float64(i)},
			rss: int64(10+i) << 20, threads: 5 + i%2, vol: int64(100 * i), invol: int64(10 * i), ctx: true,
			cpuTimes: map[int]procstat.CPUTimes{1: {Steal: int64(2 * i), Total: int64(1000 + 25*i)}}}
		if i >= 4 {
			ps.cpu[2] = 0.05 * float64(i-3)
		}
		// Thread 1 runs throughout, 2 stays parked, 3 starts at 1 s.
		ps.tasks = map[int]int64{1: int64(i), 2: 3}
		if i >= 4 {
			ps.tasks[3] = int64(i - 3)
		}
		s.procs = append(s.procs, ps)
	}
	r := s.resources(t0, t0.Add(2*time.Second), 1000)
	// CPU: 0.8 s (pid 1) + 0.25 s (pid 2) over 2 s.
	if r.Samples != 9 || !near(r.CPUSeconds, 1.05) || !near(r.MeanCPUPct, 52.5) || !near(r.CPUPer1kReqMs, 1050) {
		t.Errorf("resources = %+v; want 9 samples, 1.05 CPU s, 52.5%%, 1050 ms/1k", r)
	}
	if r.PeakRSSBytes != 18<<20 || r.PeakThreads != 6 || r.VoluntaryCtx != 800 || r.InvolCtx != 80 {
		t.Errorf("resources = %+v", r)
	}
	// The host stole 2 of every 25 ticks of the server's CPU.
	if r.ServerStealPct == nil || *r.ServerStealPct != 8 {
		t.Errorf("server steal = %v; want 8 %%", r.ServerStealPct)
	}
	// Context switches are read at the window's edges only (ctxDue): the
	// readings enclosing the window, even when one lies outside it, give
	// its total, scaled to it.
	for _, tc := range []struct {
		name       string
		read       []int // the samples (0.25 s apart) with context switches
		start, end time.Duration
		vol, invol int64
		ran        int
	}{
		{"at the window's edges", []int{0, 8}, 0, 2 * time.Second, 800, 80, 2},
		{"inside the window", []int{2, 6}, 0, 2 * time.Second, 800, 80, 2},
		{"before and after the window", []int{1, 7}, 500 * time.Millisecond, 1500 * time.Millisecond, 400, 40, 2},
		{"before thread 3 started", []int{0, 3}, 0, 500 * time.Millisecond, 200, 20, 1},
		{"one reading", []int{3}, 0, 2 * time.Second, 0, 0, 0},
	} {
		for i := range s.procs {
			s.procs[i].ctx = slices.Contains(tc.read, i)
		}
		if r := s.resources(t0.Add(tc.start), t0.Add(tc.end), 1000); r.VoluntaryCtx != tc.vol || r.InvolCtx != tc.invol || r.ActiveThreads != tc.ran {
			t.Errorf("context switches %s: voluntary %d, involuntary %d, threads ran %d; want %d, %d, %d", tc.name, r.VoluntaryCtx, r.InvolCtx, r.ActiveThreads, tc.vol, tc.invol, tc.ran)
		}
	}
	for i := range s.procs {
		s.procs[i].cpuTimes = nil
	}
	if r := s.resources(t0, t0.Add(2*time.Second), 1000); r.ServerStealPct != nil {
		t.Errorf("server steal not read, yet = %v", *r.ServerStealPct)
	}
	tl := []result.Second{{T: 0}, {T: 1}}
	s.joinTimeline(tl, t0)
	if !near(tl[0].CPUPct, 40+5) || tl[1].RSSBytes != 18<<20 || tl[1].Threads != 6 {
		t.Errorf("timeline = %+v", tl)
	}
}

// TestRanBetween counts the threads whose context switches rose between two
// readings: not one that existed and stayed parked (Apache's spare worker
// threads), and one started in between that switched.
func TestRanBetween(t *testing.T) {
	tests := []struct {
		name string
		a, b map[int]int64
		want int
	}{
		{"none read", nil, nil, 0},
		{"parked throughout", map[int]int64{1: 5, 2: 7}, map[int]int64{1: 5, 2: 7}, 0},
		{"one ran", map[int]int64{1: 5, 2: 7}, map[int]int64{1: 9, 2: 7}, 1},
		{"started in between", map[int]int64{1: 5}, map[int]int64{1: 5, 3: 2}, 1},
		{"started, never switched", map[int]int64{1: 5}, map[int]int64{1: 5, 3: 0}, 0},
		{"exited in between", map[int]int64{1: 5, 2: 7}, map[int]int64{1: 6}, 1},
	}
	for _, tt := range tests {
		if got := ranBetween(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: ranBetween = %d; want %d", tt.name, got, tt.want)
		}
	}
}

// TestCtxDue: the per-thread context switches are read at the window's edges
// and never inside it.
func TestCtxDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &sampler{}
	if !s.ctxDue(t0) {
		t.Error("the idle reading does not read context switches")
	}
	s.ctxAt = t0
	if s.ctxDue(t0.Add(SampleEvery)) {
		t.Error("a second reading before the attack reads context switches")
	}
	s.attacking(t0.Add(time.Second), time.Second, 3*time.Second) // window [2 s, 5 s]
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{1100 * time.Millisecond, false}, // warmup, another reading follows before the window
		{1800 * time.Millisecond, true},  // the last reading before the window
		{2 * time.Second, false},         // the window's first instant
		{3500 * time.Millisecond, false},
		{5 * time.Second, false},
		{5100 * time.Millisecond, true}, // the first after it
	} {
		if got := s.ctxDue(t0.Add(tc.at)); got != tc.want {
			t.Errorf("ctxDue at %s = %v; want %v", tc.at, got, tc.want)
		}
	}
	s.ctxAt = t0.Add(5100 * time.Millisecond)
	if s.ctxDue(t0.Add(5350 * time.Millisecond)) {
		t.Error("a second reading after the window reads context switches")
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

func TestEvaluateSLOs(t *testing.T) {
	p := plan.Plan{SLOs: []plan.SLO{
		{Expr: "p99 <= 50ms", Class: "plain"},
		{Expr: "errors < 1%", Model: "eventloop"},
	}}
	cell := func(id, model string, valid bool, p99 float64, errs int64) result.Cell {
		return result.Cell{ID: id, Model: model, Scenario: "mix", Validity: result.Validity{Valid: valid}, Classes: []result.Class{
			{Name: "plain", Requests: 100, Errors: errs, Response: result.Latency{Count: 100 - errs, P99: p99}},
			{Name: "cpu", Requests: 10, Response: result.Latency{Count: 10, P99: 900}},
		}}
	}
	empty := cell("d", "goroutine", true, 0, 0) // no plain request in the window: no p99 to check
	empty.Classes[0] = result.Class{Name: "plain"}
	// Every plain request failed: no response time, and "p99 <= 50ms" used
	// to pass on the 0 it read.
	allFailed := cell("e", "goroutine", true, 0, 100)
	// p99 10 ms is a lower bound (censored requests from 5 ms on): it
	// cannot show the threshold was kept.
	lower := cell("f", "goroutine", true, 10, 0)
	lower.Classes[0].Response.Censored, lower.Classes[0].Response.CensoredMin = 3, 5
	got := EvaluateSLOs(p, []result.Cell{
		cell("a", "goroutine", true, 10, 0),
		cell("b", "eventloop", true, 80, 2),
		cell("c", "eventloop", false, 80, 50),
		empty,
		allFailed,
		lower,
	})
	var lines []string
	for _, r := range got {
		lines = append(lines, strings.Join([]string{r.Expr, r.Cell, r.Class, verdict(r)}, " "))
	}
	want := []string{
		"p99 <= 50ms a plain pass",
		"p99 <= 50ms b plain FAIL",
		"p99 <= 50ms c plain skipped",
		"p99 <= 50ms d plain skipped",
		"p99 <= 50ms e plain FAIL",
		"p99 <= 50ms f plain FAIL",
		"errors < 1% b plain FAIL",
		"errors < 1% b cpu pass",
		"errors < 1% c plain skipped",
		"errors < 1% c cpu skipped",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("EvaluateSLOs:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if b, s := SLOCounts(got); b != 4 || s != 4 {
		t.Errorf("SLOCounts = %d broken, %d skipped; want 4, 4", b, s)
	}
	for _, r := range got {
		if (r.Skipped || r.Cell == "e" || r.Cell == "f") && r.Reason == "" {
			t.Errorf("%s on %s/%s skipped without a reason", r.Expr, r.Cell, r.Class)
		}
		if r.Cell == "d" && r.Skipped && r.Reason != "no request of this class was sent in the measured window" {
			t.Errorf("%s on d/plain skipped: %q", r.Expr, r.Reason)
		}
	}
}

func verdict(r result.SLOResult) string {
	switch {
	case r.Skipped:
		return "skipped"
	case r.Passed:
		return "pass"
	}
	return "FAIL"
}

// TestCellOrder: repetitions outermost, models innermost (A B A B ...).
func TestCellOrder(t *testing.T) {
	p := plan.Plan{Models: []string{"a", "b"}, Reps: 2, Scenarios: []plan.Scenario{{Name: "s", Rates: []float64{10, 2.5}}}}
	var ids []string
	for _, c := range cells(p) {
		ids = append(ids, c.id())
	}
	want := "a.s.r10.1 b.s.r10.1 a.s.r2.5.1 b.s.r2.5.1 a.s.r10.2 b.s.r10.2 a.s.r2.5.2 b.s.r2.5.2"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("cells = %s\nwant %s", got, want)
	}
}

func TestVanished(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &sampler{}
	for i, pids := range [][]int{{1, 2, 3}, {1, 2, 3}, {1, 3, 4}, {1, 3, 4}} {
		ps := procSample{at: t0.Add(time.Duration(i) * time.Second), cpu: map[int]float64{}}
		for _, p := range pids {
			ps.cpu[p] = 1
		}
		s.procs = append(s.procs, ps)
	}
	if got := s.vanished(t0, t0.Add(3*time.Second)); len(got) != 1 || got[0] != 2 {
		t.Errorf("vanished = %v; want [2]", got)
	}
	if got := s.vanished(t0.Add(2*time.Second), t0.Add(3*time.Second)); len(got) != 0 {
		t.Errorf("vanished after the change = %v; want none", got)
	}
}

// TestJudgeServer: the orchestrator's rules and their causes. A cell whose every
// request was refused is the server's failure, not a valid over-capacity cell
// with a sub-millisecond p99; a server failure outranks the generator's.
func TestJudgeServer(t *testing.T) {
	refused := func() *loadgen.Result {
		return &loadgen.Result{Requests: 100, Errors: 100, Classes: []result.Class{
			{Name: "plain", Requests: 90, Errors: 90, ErrorsByKind: map[string]int64{"refused": 80, "reset": 10}},
			{Name: "cpu", Requests: 10, Errors: 10, ErrorsByKind: map[string]int64{"refused": 10}},
		}}
	}
	ok := &loadgen.Result{Requests: 100, OK: 100}
	genBound := result.Validity{Valid: false, Cause: result.CauseGenerator, Reasons: []string{"Generator-bound: lag."}}
	for _, tt := range []struct {
		name        string
		in          result.Validity
		res         *loadgen.Result
		first, last *stats.Snapshot
		died        bool
		gone        []int
		valid       bool
		cause       string
		reason      string // in the last reason
	}{
		{name: "healthy", in: result.Validity{Valid: true}, res: ok, valid: true},
		{name: "every request refused", in: result.Validity{Valid: true, OverCapacity: true}, res: refused(), cause: result.CauseServer,
			reason: "no request was answered successfully in the measured window: all 100 failed (refused 90, reset 10)"},
		{name: "refused while generator-bound", in: genBound, res: refused(), cause: result.CauseServer, reason: "no request was answered successfully"},
		{name: "ports ran out", in: genBound, res: &loadgen.Result{Requests: 100, Errors: 100, Generator: loadgen.Generator{ExhaustionErrors: 100}},
			cause: result.CauseGenerator, reason: "Generator-bound: lag."},
		{name: "nothing sent, pool free", in: genBound, res: &loadgen.Result{}, cause: result.CauseGenerator, reason: "no request was sent"},
		{name: "nothing sent, pool held by the server", in: result.Validity{Valid: true, OverCapacity: true}, res: &loadgen.Result{PoolFull: 1},
			cause: result.CauseServer, reason: "every connection stayed busy"},
		{name: "died", in: result.Validity{Valid: true}, res: ok, died: true, cause: result.CauseServer, reason: "the server exited during the cell"},
		{name: "died while generator-bound", in: genBound, res: ok, died: true, cause: result.CauseServer, reason: "the server exited"},
		{name: "child restarted", in: result.Validity{Valid: true}, res: ok, first: &stats.Snapshot{}, last: &stats.Snapshot{Restarts: 1},
			cause: result.CauseServer, reason: "restarted 1 child process(es)"},
		{name: "a child vanished", in: result.Validity{Valid: true}, res: ok, gone: []int{42}, cause: result.CauseServer, reason: "server process(es) [42] exited during the measured window"},
		{name: "a child vanished with the server", in: result.Validity{Valid: true}, res: ok, died: true, gone: []int{42}, cause: result.CauseServer, reason: "the server exited"},
	} {
		v := tt.in
		v.Reasons = slices.Clone(v.Reasons)
		judgeServer(&v, tt.res, tt.first, tt.last, tt.died, tt.gone, &server{stderr: &tailBuffer{max: 64}})
		if v.Valid != tt.valid || v.Cause != tt.cause {
			t.Errorf("%s: valid %t, cause %q; want %t, %q (reasons %q)", tt.name, v.Valid, v.Cause, tt.valid, tt.cause, v.Reasons)
			continue
		}
		if tt.reason != "" && (len(v.Reasons) == 0 || !strings.Contains(v.Reasons[len(v.Reasons)-1], tt.reason)) {
			t.Errorf("%s: reasons %q; want the last to contain %q", tt.name, v.Reasons, tt.reason)
		}
	}
}

// TestWindowStats: the server's figures of a window run from the last /stats
// reading answered by its start (not one asked for before it but answered
// inside it, which holds some of the window) to the first one asked for at or
// after its end (not the reading taken once the attack returned, after the
// drain, when an earlier one exists).
func TestWindowStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	snaps := map[string]*stats.Snapshot{}
	s := &sampler{}
	// Added out of order, as two goroutines' readings may be answered.
	for _, x := range []struct {
		name          string
		asked, answer int
	}{
		{"A", 0, 10},
		{"B", 900, 1050}, // asked before the start, answered after it
		{"last", 3500, 3510},
		{"D", 3100, 3120},
		{"C", 2900, 3005}, // asked before the end
	} {
		snaps[x.name] = &stats.Snapshot{Model: x.name}
		s.add(statsSample{at: at(x.asked), replied: at(x.answer), snap: snaps[x.name]})
	}
	var order []string
	for _, x := range s.stats {
		order = append(order, x.snap.Model)
	}
	if got := strings.Join(order, " "); got != "A B C D last" {
		t.Errorf("series in order %s; want A B C D last (by the time asked)", got)
	}
	start, end, notes := s.windowStats(at(1000), at(3000))
	if start != snaps["A"] || end != snaps["D"] || len(notes) != 0 {
		t.Errorf("windowStats = %v, %v, %q; want A, D, no note", start, end, notes)
	}
	// No reply before the start: the first reading, with a note; nothing
	// asked for after the end: no end reading.
	start, end, notes = s.windowStats(at(5), at(4000))
	if start != snaps["A"] || end != nil || len(notes) != 1 || !strings.Contains(notes[0], "answered 5ms into the window") {
		t.Errorf("windowStats without readings outside the window = %v, %v, %q; want A with a note, nil", start, end, notes)
	}
	if start, end, notes := (&sampler{}).windowStats(t0, t0); start != nil || end != nil || notes != nil {
		t.Errorf("windowStats of no readings = %v, %v, %q", start, end, notes)
	}
}

// TestJudgePoolBound: a saturated pool whose rate × service time exceeds the
// connections while the server idles is the generator's limit (pool-bound),
// not the server's; a busy server, or a rate the connections could carry,
// stays over capacity.
func TestJudgePoolBound(t *testing.T) {
	res := func(offered, serviceMs float64) *loadgen.Result {
		return &loadgen.Result{OfferedRPS: offered, MaxConnections: 64, PoolFull: 0.9,
			Classes: []result.Class{{Name: "io", Service: result.Latency{Count: 1000, Mean: serviceMs}}}}
	}
	for _, tt := range []struct {
		name      string
		res       *loadgen.Result
		cpuPct    float64
		poolBound bool
	}{
		// 2000 req/s × 50 ms = 100 in flight > 64, server at 5 % CPU.
		{"io wait beyond the pool", res(2000, 50), 5, true},
		// The same, but the server burnt a CPU: it was the limit.
		{"busy server", res(2000, 50), 100, false},
		// 1000 × 50 ms = 50 ≤ 64: the pool could carry the rate.
		{"pool large enough", res(1000, 50), 5, false},
	} {
		v := result.Validity{Valid: true, OverCapacity: true, Reasons: []string{"Over capacity: all 64 connections were busy"}}
		judgePoolBound(&v, tt.res, result.Resources{Samples: 20, MeanCPUPct: tt.cpuPct})
		gotPool := !v.Valid && v.Cause == result.CauseGenerator && strings.HasPrefix(v.Reasons[len(v.Reasons)-1], "Pool-bound: ")
		if gotPool != tt.poolBound || (!gotPool && (!v.Valid || !v.OverCapacity)) {
			t.Errorf("%s: validity %+v; want pool-bound %t (else valid, over capacity)", tt.name, v, tt.poolBound)
		}
	}
}

// TestCellLine: a class without a successful answer shows its failures, not
// a p99 of 0 ms.
func TestCellLine(t *testing.T) {
	c := result.Cell{AchievedRPS: 100, Errors: 5, Classes: []result.Class{
		{Name: "plain", Response: result.Latency{Count: 90, P99: 1.5}},
		{Name: "cut", Errors: 5, Failed: &result.Latency{Count: 5, P99: 62}},
		{Name: "idle"},
	}}
	got := cellLine("[1/1] m s 100/s", c)
	for _, want := range []string{"p99 plain 1.50 ms", "cut all 5 failed (p99 62.0 ms)", "idle none measured"} {
		if !strings.Contains(got, want) {
			t.Errorf("cellLine = %q; want %q in it", got, want)
		}
	}
	if strings.Contains(got, "p99 cut") {
		t.Errorf("cellLine = %q: a p99 for a class without successes", got)
	}
}
