package reports

// This file generates the committed fixture, testdata/run: a results directory
// as the benchmark writes it (results.json and each cell's files), for 5 models
// × 6 scenario-rates × 2 repetitions. Latencies are drawn from a small seeded
// model of each concurrency model (head-of-line blocking on one loop, a
// bounded worker pool, OS-scheduled threads), recorded in HdrHistograms, and
// every summary, .hgrm file and timeline second is computed from those
// histograms, so the figures agree with each other the way a real run's do.
//
// Regenerate with: go test ./reports/ -run TestFixture -update

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/units"
)

const fixtureDir = "testdata/run"

func fixturePlan() plan.Plan {
	d := func(s string) plan.Duration { v, _ := time.ParseDuration(s); return plan.Duration(v) }
	plain := plan.Class{Name: "plain", Target: "/plain", Weight: 99}
	cpu := plan.Class{Name: "cpu", Target: "/cpu?iters=20000", Weight: 1, Heavy: true}
	return plan.Plan{
		Name:           "fixture",
		Description:    "hand-made fixture for the reports tests: every model against I/O waits, a CPU mix at two shares and two rates, ReDoS and blocking sleeps",
		Models:         []string{"thread", "eventloop", "offload", "cluster", "goroutine"},
		Duration:       d("10s"),
		Warmup:         d("2s"),
		Reps:           2,
		MaxConnections: 128,
		Timeout:        d("10s"),
		Server:         plan.ServerSettings{MaxThreads: 256, Workers: 2, Procs: 4},
		Scenarios: []plan.Scenario{
			{Name: "io-wait", Description: "50 ms I/O waits, about 100 requests in flight",
				Mix: []plan.Class{{Name: "io", Target: "/io?ms=50", Weight: 1}}, Rates: []float64{2000}, MaxConnections: 512},
			{Name: "cpu-mix", Description: "99% cheap requests while 1% hash for about 50 ms",
				Mix: []plan.Class{plain, cpu}, Rates: []float64{200, 800}},
			{Name: "cpu-mix-5", Description: "the same hash in 5% of requests",
				Mix:   []plan.Class{{Name: "plain", Target: "/plain", Weight: 95}, {Name: "cpu", Target: "/cpu?iters=20000", Weight: 5, Heavy: true}},
				Rates: []float64{200}},
			{Name: "redos", Description: "4% of requests match ^(a+)+$: backtracking at n=18, 20, 22 and RE2 at n=22",
				Mix: []plan.Class{
					{Name: "plain", Target: "/plain", Weight: 96},
					{Name: "bt18", Target: "/regex?n=18&engine=backtrack", Weight: 1, Heavy: true},
					{Name: "bt20", Target: "/regex?n=20&engine=backtrack", Weight: 1, Heavy: true},
					{Name: "bt22", Target: "/regex?n=22&engine=backtrack", Weight: 1, Heavy: true},
					{Name: "re2-22", Target: "/regex?n=22&engine=re2", Weight: 1, Heavy: true},
				}, Rates: []float64{400}},
			{Name: "block", Description: "2% of requests sleep 20 ms on the handling thread",
				Mix:   []plan.Class{{Name: "plain", Target: "/plain", Weight: 98}, {Name: "sleep", Target: "/io?ms=20&mode=block", Weight: 2, Heavy: true}},
				Rates: []float64{200}},
		},
		SLOs: []plan.SLO{{Class: "plain", Expr: "p99 <= 100ms"}, {Expr: "errors < 0.1%"}},
	}
}

// work is the cost of one request of a class on an idle core, in ms, and
// whether it occupies the handling thread (CPU or a blocking sleep).
func work(target string) (ms float64, blocking bool) {
	switch {
	case strings.HasPrefix(target, "/cpu"):
		return 50, true
	case strings.HasPrefix(target, "/io?ms=20&mode=block"):
		return 20, true
	case strings.HasPrefix(target, "/io?ms=50"):
		return 50, false
	case strings.Contains(target, "engine=re2"):
		return 0.02, true
	case strings.HasPrefix(target, "/regex?n="):
		var n int
		fmt.Sscanf(target, "/regex?n=%d", &n)
		return 15.6 * math.Pow(2, float64(n-18)), true
	}
	return 0.05, false // /plain
}

// behaviour is one model's latency model in one scenario at one rate.
type behaviour struct {
	victimBase float64 // ms, median of a cheap request on an idle server
	pBlock     float64 // share of requests that arrive while the thread is blocked
	block      float64 // longest wait behind a block, ms
	growth     float64 // ms of backlog added per second when over capacity
	heavySlow  float64 // heavy work stretched by contention
	poolU      float64 // worker-pool utilisation (offload)
	poolMean   float64 // mean heavy work on the pool, ms
	loop       bool
	threads    func(inflight float64) float64
	rssMiB     func(threads, inflight float64) float64
	overhead   float64 // CPU ms per request besides the work
}

const fixtureCores = 4

func behave(model string, s plan.Scenario, rate float64) behaviour {
	total := 0
	for _, c := range s.Mix {
		total += c.Weight
	}
	var load, cpuLoad, maxBlock, heavyRate, heavyWork float64
	for _, c := range s.Mix {
		if !c.Heavy {
			continue
		}
		ms, blocking := work(c.Target)
		r := rate * float64(c.Weight) / float64(total)
		heavyRate += r
		heavyWork += r * ms
		if blocking {
			load += r * ms / 1000
			maxBlock = math.Max(maxBlock, ms)
			if !strings.Contains(c.Target, "mode=block") {
				cpuLoad += r * ms / 1000
			}
		}
	}
	b := behaviour{heavySlow: 1}
	loopModel := func(rho float64) {
		b.loop = true
		switch {
		case rho >= 1:
			b.pBlock, b.block, b.growth = 0.95, maxBlock*2, (rho-1)*1000
		case rho > 0:
			b.pBlock, b.block = rho, maxBlock*(1+2*rho/(1-rho))
		}
	}
	switch model {
	case "eventloop":
		b.victimBase, b.overhead = 0.32, 0.04
		loopModel(load)
		b.threads = func(float64) float64 { return 6 }
		b.rssMiB = func(_, in float64) float64 { return 11 + 0.01*in }
	case "cluster":
		b.victimBase, b.overhead = 0.36, 0.06
		loopModel(load / 4)
		b.threads = func(float64) float64 { return 4*6 + 1 }
		b.rssMiB = func(_, in float64) float64 { return 4*11 + 4 + 0.01*in }
	case "offload":
		b.victimBase, b.overhead = 0.40, 0.05
		b.loop = true
		b.pBlock, b.block = 0.002, 3
		if heavyRate > 0 {
			b.poolMean = heavyWork / heavyRate
			b.poolU = math.Min(load/2, 0.95)
		}
		b.threads = func(float64) float64 { return 8 + 2 }
		b.rssMiB = func(_, in float64) float64 { return 13 + 0.01*in }
	case "thread":
		b.victimBase, b.overhead = 0.45, 0.12
		rho := cpuLoad / fixtureCores
		b.pBlock, b.block, b.heavySlow = rho*0.3, 4, 1+rho*0.3
		b.threads = func(in float64) float64 { return math.Min(in, 256) + 8 }
		b.rssMiB = func(th, _ float64) float64 { return 14 + 0.33*th }
	case "goroutine":
		b.victimBase, b.overhead = 0.26, 0.07
		rho := cpuLoad / fixtureCores
		b.pBlock, b.block, b.heavySlow = rho*0.15, 2, 1+rho*0.1
		b.threads = func(in float64) float64 { return 9 + math.Min(in/40, 5) }
		b.rssMiB = func(_, in float64) float64 { return 12 + 0.02*in }
	}
	return b
}

// cellFault makes one cell generator-bound.
type cellFault struct {
	lagMean  float64 // ms
	achieved float64 // share of the offered rate sent
	reason   string
}

func fixtureFault(id string) *cellFault {
	switch id {
	case "goroutine.cpu-mix.r800.1", "goroutine.cpu-mix.r800.2":
		return &cellFault{lagMean: 9, achieved: 0.87,
			reason: "generator-bound: dispatch lag p99 41 ms, the generator could not send on schedule (another process was using its CPUs)"}
	case "thread.io-wait.r2000.2":
		return &cellFault{lagMean: 6, achieved: 0.91,
			reason: "generator-bound: all 512 connections were busy for 38% of the window, so requests waited for a connection"}
	}
	return nil
}

// fixtureServerFailure makes one cell invalid because its server failed, as
// the benchmark records it, or returns "".
func fixtureServerFailure(id string) string {
	if id == "cluster.block.r200.1" { // its server log says so too
		return "the server restarted 1 child process(es) during the cell"
	}
	return ""
}

// TestFixture checks that the committed fixture loads (TestMain regenerates
// it first with -update).
func TestFixture(t *testing.T) {
	run, err := result.Load(fixtureDir)
	if err != nil {
		t.Fatalf("committed fixture: %v (regenerate with -update)", err)
	}
	if got, want := len(run.Cells), 60; got != want {
		t.Errorf("fixture has %d cells; want %d", got, want)
	}
}

func writeFixture(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := fixturePlan()
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	run := &result.Run{
		Plan: p,
		Env: result.Environment{
			ConcbenchVersion: "v0.4.0", Commit: "88f8908", GoVersion: "go1.26.0", OS: "linux", Arch: "amd64",
			Kernel: "6.12.0-fixture", CPUModel: "Fixture CPU @ 3.0GHz", Cores: 8, MemoryBytes: 16 << 30, Hostname: "fixture",
			Pinning:           result.Pinning{ServerCPUs: "2-5", LoadgenCPUs: "0-1", Note: "sched_setaffinity"},
			LoadgenGOMAXPROCS: 2, CeilingRPS: 52000,
		},
		Started: start,
	}
	rng := rand.New(rand.NewPCG(2026, 4))
	clock := start
	for rep := 1; rep <= p.Reps; rep++ {
		for _, s := range p.Scenarios {
			for _, rate := range s.Rates {
				for _, m := range p.Models {
					c, err := fixtureCell(dir, rng, p, s, m, rate, rep)
					if err != nil {
						return err
					}
					run.Cells = append(run.Cells, c)
					clock = clock.Add(13 * time.Second)
				}
			}
		}
	}
	run.Finished = clock
	return result.Save(dir, run)
}

type sample struct {
	t         float64 // seconds into the window
	resp, svc float64 // ms
	class     int
	err       bool
	wait      float64 // pool queue wait, ms (offload)
	usesPool  bool
}

func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

func newHist() *hdr.Histogram { return hdr.New(1, 60_000_000, 3) }

func record(h *hdr.Histogram, ms float64) {
	us := int64(math.Round(ms * 1000))
	_ = h.RecordValue(min(max(us, 1), h.HighestTrackableValue()))
}

func latencyOf(h *hdr.Histogram) result.Latency {
	if h.TotalCount() == 0 {
		return result.Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return result.Latency{
		Count: h.TotalCount(), Mean: round3(h.Mean() / 1000), P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), P9999: q(99.99),
		Max: float64(h.Max()) / 1000, StdDev: round3(h.StdDev() / 1000),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func fixtureCell(dir string, rng *rand.Rand, p plan.Plan, s plan.Scenario, model string, rate float64, rep int) (result.Cell, error) {
	id := fmt.Sprintf("%s.%s.r%s.%d", model, s.Name, units.Num(rate), rep)
	b := behave(model, s, rate)
	fault := fixtureFault(id)
	dur := p.Duration.D().Seconds()
	maxConns := p.MaxConnections
	if s.MaxConnections > 0 {
		maxConns = s.MaxConnections
	}
	total := 0
	for _, c := range s.Mix {
		total += c.Weight
	}
	sentShare := 1.0
	if fault != nil {
		sentShare = fault.achieved
	}
	achievedShare := sentShare
	if b.growth > 0 {
		achievedShare = sentShare * 0.92 // the backlog is still queued at the end
	}
	errRate := 0.0
	if b.growth > 0 {
		errRate = 0.004
	}

	// Draw every request.
	n := int(rate * dur * achievedShare)
	var samples []sample
	var loopDelays []struct{ t, ms float64 }
	for i := 0; i < n; i++ {
		t := dur * float64(i) / float64(n)
		ci := pick(rng, s.Mix, total)
		c := s.Mix[ci]
		var svc float64
		smp := sample{t: t, class: ci}
		if !c.Heavy {
			base := b.victimBase
			if ms, _ := work(c.Target); ms > 1 {
				base = ms + b.victimBase // an I/O wait
			}
			svc = lognormal(rng, base, 0.3)
			if base > 1 {
				svc = base + lognormal(rng, b.victimBase, 0.3)
			}
		} else {
			ms, _ := work(c.Target)
			svc = lognormal(rng, ms*b.heavySlow, 0.05) + lognormal(rng, b.victimBase, 0.3)
			if b.poolU > 0 {
				smp.usesPool = true
				if rng.Float64() < b.poolU {
					smp.wait = rng.ExpFloat64() * b.poolMean / (1 - b.poolU)
				}
				svc += smp.wait
			}
		}
		if rng.Float64() < b.pBlock {
			svc += rng.Float64() * b.block
		}
		svc += b.growth * t * (0.8 + 0.2*rng.Float64())
		lag := rng.ExpFloat64() * 0.04
		if fault != nil {
			lag = rng.ExpFloat64() * fault.lagMean
		}
		smp.svc, smp.resp = svc, svc+lag
		smp.err = rng.Float64() < errRate
		samples = append(samples, smp)
	}
	if b.loop {
		for i := 0; i < int(dur*100); i++ { // sampled every 10 ms
			t := float64(i) / 100
			d := 0.02 + rng.ExpFloat64()*0.03
			if rng.Float64() < b.pBlock {
				d += rng.Float64() * b.block
			}
			d += b.growth * t * 0.5
			loopDelays = append(loopDelays, struct{ t, ms float64 }{t, d})
		}
	}

	// Classes, from their histograms.
	cell := result.Cell{
		ID: id, Model: model, Scenario: s.Name, Rep: rep, Rate: rate, DurationSec: dur, WarmupSec: p.Warmup.D().Seconds(),
		ServerArgs:     []string{"concbench", "serve", "--model", model, "--addr", "127.0.0.1:0", "--max-threads", "256", "--workers", "2", "--procs", "4"},
		MaxConnections: maxConns,
		Files:          map[string]string{},
	}
	var resp []*hdr.Histogram
	allResp := newHist()
	for ci, c := range s.Mix {
		hr, hs := newHist(), newHist()
		cl := result.Class{Name: c.Name, Target: c.Target, Weight: c.Weight, Heavy: c.Heavy}
		for _, smp := range samples {
			if smp.class != ci {
				continue
			}
			cl.Requests++
			if smp.err {
				cl.Errors++
				continue
			}
			cl.OK++
			record(hr, smp.resp)
			record(hs, smp.svc)
			record(allResp, smp.resp)
		}
		if cl.Errors > 0 {
			cl.ErrorsByKind = map[string]int64{"timeout": cl.Errors}
		}
		cl.Response, cl.Service = latencyOf(hr), latencyOf(hs)
		cell.Classes = append(cell.Classes, cl)
		cell.Requests += cl.Requests
		cell.OK += cl.OK
		cell.Errors += cl.Errors
		resp = append(resp, hr)
		name := id + "." + c.Name + ".hgrm"
		if err := writeHgrm(filepath.Join(dir, name), hr); err != nil {
			return cell, err
		}
		cell.Files["hgrm:"+c.Name] = name
	}
	cell.SentRPS = rate * sentShare
	cell.AchievedRPS = float64(cell.Requests) / dur
	lags := newHist()
	for _, smp := range samples {
		record(lags, smp.resp-smp.svc)
	}
	cell.DispatchLag = latencyOf(lags)

	// Concurrency, from Little's law over the window.
	meanResp := allResp.Mean() / 1000
	inflight := rate * achievedShare * meanResp / 1000
	peak := math.Min(math.Ceil(inflight*1.5+3), float64(maxConns))
	cell.PeakInFlight = int(peak)
	threads := math.Round(b.threads(peak))
	rss := b.rssMiB(threads, peak) * (1 + 0.02*rng.NormFloat64())

	// Resources.
	var cpuMs float64
	for _, smp := range samples {
		c := s.Mix[smp.class]
		if ms, blocking := work(c.Target); c.Heavy && blocking && !strings.Contains(c.Target, "mode=block") {
			cpuMs += ms
		}
		cpuMs += b.overhead
	}
	cpuS := cpuMs / 1000 * (1 + 0.03*rng.NormFloat64())
	cell.Resources = result.Resources{
		Samples: int(dur * 4), CPUSeconds: round3(cpuS), MeanCPUPct: round3(100 * cpuS / dur), PeakCPUPct: round3(130 * cpuS / dur),
		PeakRSSBytes: int64(rss * (1 << 20)), MeanRSSBytes: int64(rss * 0.93 * (1 << 20)), PeakThreads: int(threads),
		VoluntaryCtx: int64(cell.Requests) * 2, InvolCtx: int64(cell.Requests) / 50,
		CPUPer1kReqMs: round3(cpuS * 1e3 / (float64(cell.Requests) / 1e3)),
	}

	// The server's own /stats.
	cell.Server = stats.Snapshot{
		Model: model, PIDs: []int{40000 + len(id)}, UptimeSec: dur + cell.WarmupSec + 0.4, Completed: map[string]uint64{},
		Responses: map[string]uint64{"2xx": uint64(cell.OK)}, OSThreads: int(threads) - 1, PeakOSThr: int(threads),
		Goroutines: 12 + int(peak), RSSBytes: int64(rss * 0.97 * (1 << 20)), GOMAXPROCS: 4,
	}
	if model == "thread" {
		cell.Server.MaxThreads = 256
	}
	loopHist := newHist()
	for _, d := range loopDelays {
		record(loopHist, d.ms)
	}
	if b.loop {
		ld := stats.Summarize(loopHist)
		cell.Server.LoopDelay = &ld
	}
	waitHist := newHist()
	if model == "offload" {
		for _, smp := range samples {
			if smp.usesPool {
				record(waitHist, math.Max(smp.wait, 0.001))
			}
		}
		cell.Server.Pool = &stats.PoolStats{Workers: 2, QueueCap: 64, QueueWait: stats.Summarize(waitHist)}
	}

	// Timeline: every second, from the same samples.
	for sec := 0; sec < int(dur); sec++ {
		h := newHist()
		var st result.Second
		st.T = sec
		var queued float64
		for _, smp := range samples {
			if int(smp.t) != sec {
				continue
			}
			st.Requests++
			if smp.err {
				st.Errors++
				continue
			}
			record(h, smp.resp)
			queued += smp.wait / 1000 // request-seconds spent queued
		}
		if st.Errors > 0 {
			st.ErrorKind = map[string]int64{"timeout": st.Errors}
		}
		st.P50, st.P99 = float64(h.ValueAtQuantile(50))/1000, float64(h.ValueAtQuantile(99))/1000
		ramp := math.Min(1, 0.7+0.1*float64(sec))
		st.RSSBytes = int64(rss * ramp * (1 << 20))
		st.Threads = int(math.Max(4, math.Round(threads*ramp)))
		st.CPUPct = round3(100 * cpuS / dur * (1 + 0.05*rng.NormFloat64()))
		if b.loop {
			lh := newHist()
			for _, d := range loopDelays {
				if int(d.t) == sec {
					record(lh, d.ms)
				}
			}
			st.LoopDelayMs = float64(lh.ValueAtQuantile(99)) / 1000
		}
		if model == "offload" {
			st.QueueDepth = int(math.Ceil(queued * 1.8)) // the deepest moment of the second
			cell.Server.Pool.QueueDepthPeak = max(cell.Server.Pool.QueueDepthPeak, st.QueueDepth)
		}
		cell.Timeline = append(cell.Timeline, st)
	}

	// Validity.
	cell.Validity = result.Validity{Valid: true}
	if fault != nil {
		cell.Validity.Invalidate(result.CauseGenerator, fault.reason)
	}
	if b.growth > 0 {
		cell.Validity.OverCapacity = true
		cell.Validity.Reasons = append(cell.Validity.Reasons, fmt.Sprintf(
			"over capacity: answered %s of %s offered while the backlog grew through the window", units.Num(cell.AchievedRPS), units.Rate(rate)))
	}
	if why := fixtureServerFailure(id); why != "" {
		cell.Validity.Invalidate(result.CauseServer, why)
	}

	// A few more files, as a real run leaves them.
	extra := map[string]struct{ kind, name, body string }{
		"eventloop.cpu-mix.r200.1": {"hlog:plain", id + ".plain.hlog", ""},
		"offload.redos.r400.1":     {"profile:cpu", id + ".cpu.pprof", "fixture: stands for a CPU profile\n"},
		"eventloop.redos.r400.1":   {"raw", id + ".bin", "fixture: stands for vegeta's binary results\n"},
		"cluster.block.r200.1":     {"server-log", id + ".server.log", "cluster: child 2 restarted by the fixture\n"},
	}
	if e, ok := extra[id]; ok {
		body := []byte(e.body)
		if strings.HasPrefix(e.kind, "hlog:") {
			body = hlogOf(samples, 0, resp[0])
		}
		if err := os.WriteFile(filepath.Join(dir, e.name), body, 0o644); err != nil {
			return cell, err
		}
		cell.Files[e.kind] = e.name
	}
	if id == "eventloop.redos.r400.2" {
		// Named by the cell but not in the directory (say, the run was
		// stopped while writing it): the page must list it, not link it.
		cell.Files["profile:cpu"] = id + ".cpu.pprof"
	}
	return cell, nil
}

func pick(rng *rand.Rand, mix []plan.Class, total int) int {
	x := rng.IntN(total)
	for i, c := range mix {
		if x < c.Weight {
			return i
		}
		x -= c.Weight
	}
	return len(mix) - 1
}

func writeHgrm(path string, h *hdr.Histogram) error {
	var buf bytes.Buffer
	if _, err := h.PercentilesPrint(&buf, 1, 1000); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// hlogOf writes an HdrHistogram interval log of one class, one interval per second.
func hlogOf(samples []sample, class int, _ *hdr.Histogram) []byte {
	var buf bytes.Buffer
	w := hdr.NewHistogramLogWriter(&buf)
	_ = w.OutputLogFormatVersion()
	_ = w.OutputComment("[concbench fixture: response time from intended send, in microseconds]")
	_ = w.OutputLegend()
	secs := map[int]*hdr.Histogram{}
	var keys []int
	for _, s := range samples {
		if s.class != class || s.err {
			continue
		}
		k := int(s.t)
		if secs[k] == nil {
			secs[k] = newHist()
			secs[k].SetStartTimeMs(int64(k) * 1000)
			secs[k].SetEndTimeMs(int64(k+1) * 1000)
			keys = append(keys, k)
		}
		record(secs[k], s.resp)
	}
	slices.Sort(keys)
	for _, k := range keys {
		_ = w.OutputIntervalHistogram(secs[k])
	}
	return buf.Bytes()
}
