package runner

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/stats"
)

// SampleEvery is how often a server's process figures and /stats are sampled.
const SampleEvery = 250 * time.Millisecond

// procSample is one reading of every process of a server (the cluster
// supervisor and its children count together).
type procSample struct {
	at      time.Time
	cpu     map[int]float64 // CPU seconds so far, per pid
	rss     int64           // summed over the processes: shared pages count in each
	pss     int64           // summed PSS: shared pages count once (0: unreadable, or not read: see pssEvery)
	threads int
	vol     int64
	invol   int64
	ctx     bool // vol and invol were read (see ctxDue)
	// tasks holds each thread's context switches, by thread id, when ctx:
	// the threads whose count rose between two readings ran between them.
	tasks map[int]int64
	// cpuTimes are /proc/stat's times of the server's CPUs (nil: not read),
	// for the host's steal over the window (procstat.StealShare). The file
	// is one read of a few hundred bytes a CPU, ~20 µs here: cheap beside
	// the per-process files read at every sample.
	cpuTimes map[int]procstat.CPUTimes
}

// statsSample is one /stats reading: asked for at at, answered at replied.
// The server took its snapshot somewhere in between.
type statsSample struct {
	at, replied time.Time
	snap        *stats.Snapshot
}

// sampler reads a server's figures every SampleEvery until stopped: /proc in
// one goroutine and /stats in another, so that a /stats answer delayed by a
// blocked event loop does not delay the /proc readings.
//
// While it samples, the readings go to a spool file, not to memory: they grow
// with the cell (8 a second, a /stats reading weighing about a kilobyte), and
// the sampler runs in the generator's process, whose memory must stay flat
// over a long run. stop reads them back for the analysis, once the window is
// over. Without a spool (it could not be created, or a write failed) the
// readings stay in memory.
type sampler struct {
	srv    *server
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards everything below
	spool  *spool     // nil when it could not be created, and once read back
	notes  []string   // what went wrong with the spool
	procs  []procSample
	stats  []statsSample // in the order they were asked for
	pids   []int         // the latest /stats pids (cluster children)
	pidsAt time.Time     // when the reading of pids was asked for

	ctxAt   time.Time     // the last reading of context switches (sampleProcs only)
	pssAt   time.Time     // the last reading of PSS (sampleProcs only)
	pssCost time.Duration // how long it took

	attackAt time.Time // when the cell's first request was due (see attacking)
	// winStart and winEnd bound the measured window (zero until attacking).
	winStart, winEnd time.Time
}

// attacking records that the cell's requests start now, with a warmup
// before the measured window of dur: readings taken before are the server's
// idle figures.
func (s *sampler) attacking(at time.Time, warmup, dur time.Duration) {
	s.mu.Lock()
	s.attackAt = at
	s.winStart, s.winEnd = at.Add(warmup), at.Add(warmup+dur)
	s.mu.Unlock()
}

// pssEvery is how long the sampler waits between two readings of PSS that
// took cost: every sample while it is cheap, else 200 times its cost (at most
// 0.5 % of the generator's CPU). smaps_rollup is one system call that walks
// every mapping: 0.3 ms for a small server, 5.5 ms for the thread model's
// 1,100 thread stacks — a system call that long holds the generator's only
// P, and four a second stalled its pacing.
func pssEvery(cost time.Duration) time.Duration {
	return max(SampleEvery, 200*cost)
}

// ctxDue says whether the reading at now also reads the server's context
// switches, which costs one /proc file per thread in the generator's process
// (~30 µs each here: a pass over Apache's 259 threads took 7–11 ms). Read
// during the window, every 250 ms, the passes delayed the generator's sends:
// against Apache, dispatch lag p99 was 3.6–5.5 ms with them and 0.2–1.7 ms
// without, and Apache's cheap p99 6–7 ms against 1.3–3.5 ms. Only the window's
// total is reported, so they are read at its edges only: before the attack
// (the idle reading), at the last reading before the window (in the warmup,
// whose timing is not measured), and at the first one after it. s.mu is not
// held.
func (s *sampler) ctxDue(now time.Time) bool {
	s.mu.Lock()
	ws, we := s.winStart, s.winEnd
	s.mu.Unlock()
	switch {
	case ws.IsZero():
		return s.ctxAt.IsZero()
	case now.Before(ws):
		return !now.Add(SampleEvery).Before(ws)
	case now.After(we):
		return !s.ctxAt.After(we)
	}
	return false
}

func startSampler(srv *server) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{srv: srv, cancel: cancel}
	sp, err := newSpool()
	if err != nil {
		s.notes = append(s.notes, fmt.Sprintf("server samples kept in memory: %v", err))
	}
	s.spool = sp
	if srv.pid > 0 { // an attached target without --target-pid: no process to read
		s.sampleProcs(ctx) // the idle reading, before any request (resources)
		s.wg.Go(func() { s.loop(ctx, s.sampleProcs) })
	}
	if srv.spec.stats {
		s.wg.Go(func() { s.loop(ctx, s.sampleStats) })
	}
	return s
}

func (s *sampler) loop(ctx context.Context, f func(context.Context)) {
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stop ends the sampling, takes one last /proc reading and reads the spooled
// readings back. Call it once; readings taken after it stay in memory.
func (s *sampler) stop() {
	s.cancel()
	s.wg.Wait()
	if s.srv.pid > 0 {
		s.sampleProcs(context.Background())
	}
	s.readBack()
}

// readBack reads the spooled readings back into memory and drops the spool.
func (s *sampler) readBack() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spool == nil {
		return
	}
	err := s.spool.readBack(func(p procSample) { s.procs = append(s.procs, p) }, s.insertStats)
	s.spool = nil
	if err != nil {
		s.notes = append(s.notes, fmt.Sprintf("server samples: reading the spool back: %v: some readings are missing", err))
	}
	// The spooled readings came before those kept in memory after a failed
	// write: restore the order of time.
	slices.SortStableFunc(s.procs, func(a, b procSample) int { return a.at.Compare(b.at) })
}

// spoolNotes says what went wrong with the spool, if anything.
func (s *sampler) spoolNotes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes)
}

// keep stores a reading: in the spool while there is one, else in memory.
// s.mu is held.
func (s *sampler) keep(p *procSample, x *statsSample) {
	if s.spool != nil && !s.spool.broken {
		err := s.spool.write(p, x)
		if err == nil {
			return
		}
		s.notes = append(s.notes, fmt.Sprintf("server samples: spool: %v: later readings kept in memory", err))
		s.spool.failed()
	}
	if p != nil {
		s.procs = append(s.procs, *p)
	}
	if x != nil {
		s.insertStats(*x)
	}
}

func (s *sampler) sampleProcs(context.Context) {
	s.mu.Lock()
	extra := s.pids
	s.mu.Unlock()
	pids := procstat.Tree(s.srv.pid)
	for _, p := range extra {
		if !contains(pids, p) {
			pids = append(pids, p)
		}
	}
	ps := procSample{at: time.Now(), cpu: make(map[int]float64, len(pids))}
	if len(s.srv.cpus) > 0 {
		if ts, err := procstat.ReadCPUTimes(); err == nil {
			ps.cpuTimes = make(map[int]procstat.CPUTimes, len(s.srv.cpus))
			for _, c := range s.srv.cpus {
				if t, ok := ts[c]; ok {
					ps.cpuTimes[c] = t
				}
			}
		}
	}
	ps.ctx = s.ctxDue(ps.at)
	readPSS := ps.at.Sub(s.pssAt) >= pssEvery(s.pssCost)
	var pssCost time.Duration
	for _, pid := range pids {
		r, err := procstat.Read(pid)
		if err != nil {
			continue // exited between listing and reading
		}
		ps.cpu[pid] = r.UserSec + r.SysSec
		ps.rss += r.RSSBytes
		if readPSS {
			t := time.Now()
			if pss, err := procstat.PSS(pid); err == nil {
				ps.pss += pss
			}
			pssCost += time.Since(t)
		}
		ps.threads += r.Threads
		if ps.ctx {
			if ps.tasks == nil {
				ps.tasks = map[int]int64{}
			}
			vol, invol := procstat.CtxSwitchesByTask(pid, ps.tasks)
			ps.vol += vol
			ps.invol += invol
		}
	}
	if len(ps.cpu) == 0 {
		return
	}
	if ps.ctx {
		s.ctxAt = ps.at
	}
	if readPSS {
		s.pssAt, s.pssCost = ps.at, pssCost
	}
	s.mu.Lock()
	s.keep(&ps, nil)
	s.mu.Unlock()
}

func (s *sampler) sampleStats(ctx context.Context) { _, _ = s.statsNow(ctx) }

// statsNow reads /stats now, adds the reading to the series and returns it.
func (s *sampler) statsNow(ctx context.Context) (*stats.Snapshot, error) {
	at := time.Now()
	snap, err := s.srv.stats(ctx)
	if err != nil {
		return nil, err
	}
	s.add(statsSample{at: at, replied: time.Now(), snap: snap})
	return snap, nil
}

// add adds a /stats reading to the series and remembers its pids when it is
// the latest asked for (readings of two goroutines may be answered out of order).
func (s *sampler) add(x statsSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !x.at.Before(s.pidsAt) {
		s.pids, s.pidsAt = x.snap.PIDs, x.at
	}
	s.keep(nil, &x)
}

// insertStats inserts a /stats reading in memory by the time it was asked
// for. s.mu is held.
func (s *sampler) insertStats(x statsSample) {
	i := len(s.stats)
	for i > 0 && s.stats[i-1].at.After(x.at) {
		i--
	}
	s.stats = slices.Insert(s.stats, i, x)
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// cpuBetween is the CPU time the server's processes used from a to b: the
// growth of every process seen in both, plus all of the processes born in
// between.
func cpuBetween(a, b procSample) float64 {
	var d float64
	for pid, cb := range b.cpu {
		if ca, ok := a.cpu[pid]; ok {
			d += max(cb-ca, 0)
		} else {
			d += cb
		}
	}
	return d
}

// bracket returns the indexes of the samples bracketing [start, end]: the last
// one at or before start (else the first), and the last one at or before end
// (else the last). Both are -1 when xs is empty.
func bracket[T any](xs []T, at func(T) time.Time, start, end time.Time) (first, last int) {
	first, last = -1, -1
	for i, x := range xs {
		t := at(x)
		if !t.After(start) {
			first = i
		}
		if !t.After(end) {
			last = i
		}
	}
	if len(xs) > 0 {
		first = max(first, 0)
		last = max(last, first)
	}
	return first, last
}

// enclose returns the indexes of the samples enclosing [start, end]: the last
// one at or before start (else the first), and the first one at or after end
// (else the last). Both are -1 when xs is empty.
func enclose[T any](xs []T, at func(T) time.Time, start, end time.Time) (first, last int) {
	first, last = bracket(xs, at, start, end)
	// bracket's last is the last sample at or before end: the one after it,
	// if any, is the first at or after end.
	if last >= 0 && at(xs[last]).Before(end) && last+1 < len(xs) {
		last++
	}
	return first, last
}

// resources summarises the /proc samples of the window [start, end] for a
// cell that answered requests.
func (s *sampler) resources(start, end time.Time, requests int64) result.Resources {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r result.Resources
	first, last := bracket(s.procs, func(p procSample) time.Time { return p.at }, start, end)
	if first < 0 || last <= first {
		return r
	}
	a, b := s.procs[first], s.procs[last]
	// The sampler's first reading comes before the attack starts (it is
	// started on a healthy server, before the warmup): the idle figures.
	if p0 := s.procs[0]; p0.at.Before(s.attackAt) && !s.srv.spec.attach { // an attached target has served before
		r.IdleRSSBytes, r.IdleThreads = p0.rss, p0.threads
	}
	var rssSum, pssSum, pssN int64
	for i := first; i <= last; i++ {
		p := s.procs[i]
		r.Samples++
		rssSum += p.rss
		if p.pss > 0 {
			pssSum += p.pss
			pssN++
		}
		r.PeakRSSBytes = max(r.PeakRSSBytes, p.rss)
		r.PeakPSSBytes = max(r.PeakPSSBytes, p.pss)
		r.PeakThreads = max(r.PeakThreads, p.threads)
		if i > first {
			prev := s.procs[i-1]
			if dt := p.at.Sub(prev.at).Seconds(); dt > 0 {
				r.PeakCPUPct = max(r.PeakCPUPct, 100*cpuBetween(prev, p)/dt)
			}
		}
	}
	r.MeanRSSBytes = rssSum / int64(r.Samples)
	if pssN > 0 {
		r.MeanPSSBytes = pssSum / pssN
	}
	dt := b.at.Sub(a.at).Seconds()
	rate := cpuBetween(a, b) / dt // cores busy on average
	r.MeanCPUPct = 100 * rate
	// The samples bracket the window to within SampleEvery: scale the rate to it.
	r.CPUSeconds = rate * end.Sub(start).Seconds()
	if requests > 0 {
		r.CPUPer1kReqMs = r.CPUSeconds * 1e3 / (float64(requests) / 1e3)
	}
	if len(a.cpuTimes) > 0 && len(b.cpuTimes) > 0 {
		cpus := slices.Sorted(maps.Keys(b.cpuTimes))
		pct := math.Round(1000*procstat.StealShare(a.cpuTimes, b.cpuTimes, cpus)) / 10
		r.ServerStealPct = &pct
	}
	// Context switches were read at the window's edges only (ctxDue): take
	// the readings that enclose it and scale their difference to it.
	var withCtx []procSample
	for _, p := range s.procs {
		if p.ctx {
			withCtx = append(withCtx, p)
		}
	}
	if c0, c1 := enclose(withCtx, func(p procSample) time.Time { return p.at }, start, end); c0 >= 0 && c1 > c0 {
		ca, cb := withCtx[c0], withCtx[c1]
		scale := end.Sub(start).Seconds() / cb.at.Sub(ca.at).Seconds()
		r.VoluntaryCtx = int64(math.Round(float64(max(cb.vol-ca.vol, 0)) * scale))
		r.InvolCtx = int64(math.Round(float64(max(cb.invol-ca.invol, 0)) * scale))
		r.ActiveThreads = ranBetween(ca.tasks, cb.tasks)
	}
	return r
}

// windowStats returns the /stats readings that bound the window [start,
// end]: the last one answered at or before start, so that it holds nothing
// of the window, and the first one asked for at or after end, so that it holds
// all of it. Without a reading answered by start it falls back on the last
// one asked for by start, else the first, and says so in a note; without a
// reading asked for after end, end is nil. Both are nil without readings.
func (s *sampler) windowStats(start, end time.Time) (first, last *stats.Snapshot, notes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.stats {
		if !x.replied.After(start) {
			first = x.snap
		}
	}
	if first == nil && len(s.stats) > 0 {
		i, _ := bracket(s.stats, func(x statsSample) time.Time { return x.at }, start, start)
		x := s.stats[i]
		first = x.snap
		notes = append(notes, fmt.Sprintf("no /stats reply came before the window started: loop delay, queue wait and runtime figures start from a reading answered %s into the window",
			x.replied.Sub(start).Round(time.Millisecond)))
	}
	for _, x := range s.stats {
		if !x.at.Before(end) {
			last = x.snap
			break
		}
	}
	return first, last, notes
}

// joinTimeline adds the server's figures to each second of the timeline: peak
// RSS and threads, CPU %, the loop delay p99 of that second and the deepest
// queue seen.
func (s *sampler) joinTimeline(tl []result.Second, start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	procAt := func(p procSample) time.Time { return p.at }
	statAt := func(x statsSample) time.Time { return x.at }
	for i := range tl {
		sec := &tl[i]
		from := start.Add(time.Duration(sec.T) * time.Second)
		to := from.Add(time.Second)
		if a, b := bracket(s.procs, procAt, from, to); a >= 0 && b > a {
			pa, pb := s.procs[a], s.procs[b]
			if dt := pb.at.Sub(pa.at).Seconds(); dt > 0 {
				sec.CPUPct = 100 * cpuBetween(pa, pb) / dt
			}
			for j := a + 1; j <= b; j++ {
				sec.RSSBytes = max(sec.RSSBytes, s.procs[j].rss)
				sec.Threads = max(sec.Threads, s.procs[j].threads)
			}
		}
		if a, b := bracket(s.stats, statAt, from, to); a >= 0 && b > a {
			sa, sb := s.stats[a].snap, s.stats[b].snap
			if sa.LoopDelay != nil && sb.LoopDelay != nil {
				if d, err := subtract(*sb.LoopDelay, *sa.LoopDelay); err == nil && d.Count > 0 {
					sec.LoopDelayMs = float64(d.P99Us) / 1e3
				}
			}
			for j := a + 1; j <= b; j++ {
				if p := s.stats[j].snap.Pool; p != nil {
					sec.QueueDepth = max(sec.QueueDepth, p.QueueDepth)
				}
			}
		}
	}
}

// vanished returns the server processes that exited during [start, end]: pids
// read in one /proc sample of the window and missing from a later one (a
// cluster child that died, even if the supervisor replaced it).
func (s *sampler) vanished(start, end time.Time) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int]bool{}
	var gone []int
	for _, p := range s.procs {
		if p.at.Before(start) || p.at.After(end) {
			continue
		}
		for pid := range seen {
			if _, ok := p.cpu[pid]; !ok && !contains(gone, pid) {
				gone = append(gone, pid)
			}
		}
		for pid := range p.cpu {
			seen[pid] = true
		}
	}
	sort.Ints(gone)
	return gone
}

// pidsSeen returns every pid the sampler saw, sorted.
func (s *sampler) pidsSeen() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[int]bool{}
	for _, p := range s.procs {
		for pid := range p.cpu {
			set[pid] = true
		}
	}
	for _, x := range s.stats {
		for _, pid := range x.snap.PIDs {
			set[pid] = true
		}
	}
	out := make([]int, 0, len(set))
	for pid := range set {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// ranBetween counts the threads of b whose context switches rose since a (a
// thread not in a started in between): the threads that ran between the two
// readings, where a thread created at start and never given work has not.
func ranBetween(a, b map[int]int64) int {
	n := 0
	for tid, sw := range b {
		if sw > a[tid] {
			n++
		}
	}
	return n
}
