package loadgen

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/result"
)

// Generator is the load generator's own health over the measured window: the
// evidence behind the generator-bound rules. CPU and GC figures are the whole
// process's (in `concbench run` that is the generator plus the orchestrator's
// light /proc sampling).
type Generator struct {
	// CPUs is the number of CPUs the generator could use (GOMAXPROCS).
	CPUs int
	// CPUPercent is the process's CPU time over the window, 100 = one CPU busy.
	CPUPercent float64
	// CPUShare is CPUPercent / (100·CPUs): 1 means every usable CPU was busy.
	CPUShare float64
	// GCCycles is the number of garbage collections during the window,
	// GCPauses the stop-the-world pauses they caused, with their total and
	// longest (the upper bound of the runtime's histogram bucket).
	GCCycles     int64
	GCPauses     int64
	GCPauseTotal time.Duration
	GCPauseMax   time.Duration
	// HiccupP99 and HiccupMax are the generator's own stalls: how late a
	// goroutine sleeping 1 ms at a time woke up, as shares of the window
	// (see hiccupMeter).
	HiccupP99 time.Duration
	HiccupMax time.Duration
	// SchedLatencyP99 and SchedLatencyMax are how long the process's
	// goroutines waited, runnable, to be scheduled (bucket upper bounds): a
	// generator starved of CPU — by its own work or by other processes —
	// shows here first. InvoluntarySwitches counts the times the kernel took
	// a CPU away from the process (rusage nivcsw).
	SchedLatencyP99     time.Duration
	SchedLatencyMax     time.Duration
	InvoluntarySwitches int64
	// WarmupRequests is the number of results received for warmup requests
	// (discarded from every figure).
	WarmupRequests int64
	// ExhaustionErrors counts status-0 errors, warmup included, that show the
	// generator ran out of local ports or file descriptors (EADDRNOTAVAIL,
	// EMFILE, ENFILE, ENOBUFS); ExhaustionSample is the first one's text.
	ExhaustionErrors int64
	ExhaustionSample string
	// StealShare is the share of the window the hypervisor ran something
	// else on the CPUs the generator may use while they had work (the steal
	// column of /proc/stat; 0 on bare metal): stalls the process cannot see
	// in its own CPU time, and the usual cause of hiccups on a VM whose host
	// is busy. StealCPUs are those CPUs.
	StealShare float64
	StealCPUs  cpuset.Set
}

// healthSnap is a reading of the process's CPU time and GC counters.
type healthSnap struct {
	at       time.Time
	cpu      time.Duration
	nivcsw   int64
	gcCycles uint64
	pauses   *metrics.Float64Histogram
	sched    *metrics.Float64Histogram
	cpuTimes map[int]procstat.CPUTimes // nil when /proc/stat is unreadable
}

const (
	metricGCCycles     = "/gc/cycles/total:gc-cycles"
	metricGCPauses     = "/sched/pauses/total/gc:seconds"
	metricSchedLatency = "/sched/latencies:seconds"
)

func takeHealth() healthSnap {
	s := healthSnap{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		s.nivcsw = int64(ru.Nivcsw)
	}
	sample := []metrics.Sample{{Name: metricGCCycles}, {Name: metricGCPauses}, {Name: metricSchedLatency}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		s.gcCycles = sample[0].Value.Uint64()
	}
	s.pauses = copyHist(sample[1].Value)
	s.sched = copyHist(sample[2].Value)
	s.cpuTimes, _ = procstat.ReadCPUTimes()
	return s
}

func copyHist(v metrics.Value) *metrics.Float64Histogram {
	if v.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	h := v.Float64Histogram()
	return &metrics.Float64Histogram{
		Counts:  append([]uint64(nil), h.Counts...),
		Buckets: h.Buckets, // immutable for the life of the process
	}
}

// histDelta is the part of a runtime/metrics histogram recorded between two
// readings: its count, approximate sum (bucket midpoints), the upper bound
// of its p99 bucket and of its highest bucket, in seconds.
func histDelta(from, to *metrics.Float64Histogram) (n uint64, sum, p99, max float64) {
	if from == nil || to == nil || len(from.Counts) != len(to.Counts) {
		return 0, 0, 0, 0
	}
	b := to.Buckets
	bound := func(i int) (lo, hi float64) {
		lo, hi = b[i], b[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		return lo, hi
	}
	for i, c := range to.Counts {
		d := c - from.Counts[i]
		if d == 0 {
			continue
		}
		lo, hi := bound(i)
		n += d
		sum += float64(d) * (lo + hi) / 2
		max = hi
	}
	rank, seen := uint64(math.Ceil(0.99*float64(n))), uint64(0)
	for i, c := range to.Counts {
		seen += c - from.Counts[i]
		if n > 0 && seen >= rank {
			_, p99 = bound(i)
			break
		}
	}
	return n, sum, p99, max
}

// generatorHealth fills the CPU and GC figures of g from two snapshots.
func generatorHealth(g *Generator, from, to healthSnap) {
	g.CPUs = runtime.GOMAXPROCS(0)
	if wall := to.at.Sub(from.at); wall > 0 {
		g.CPUPercent = 100 * float64(to.cpu-from.cpu) / float64(wall)
		g.CPUShare = g.CPUPercent / 100 / float64(g.CPUs)
	}
	g.GCCycles = int64(to.gcCycles - from.gcCycles)
	g.InvoluntarySwitches = to.nivcsw - from.nivcsw
	n, sum, _, mx := histDelta(from.pauses, to.pauses)
	g.GCPauses, g.GCPauseTotal, g.GCPauseMax = int64(n), seconds(sum), seconds(mx)
	_, _, p99, mx := histDelta(from.sched, to.sched)
	g.SchedLatencyP99, g.SchedLatencyMax = seconds(p99), seconds(mx)
	if from.cpuTimes != nil && to.cpuTimes != nil {
		if cpus, err := cpuset.Available(); err == nil {
			g.StealCPUs = cpus
			g.StealShare = procstat.StealShare(from.cpuTimes, to.cpuTimes, cpus)
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * 1e9) }

// hiccupTick is the hiccup meter's sleep.
const hiccupTick = time.Millisecond

// hiccupMeter measures the generator's own stalls the way jHiccup does: a
// goroutine sleeps 1 ms in a loop and records how late it wakes during the
// measured window, corrected for the wake-ups a long stall swallowed
// (RecordCorrectedValue), so its percentiles are shares of time. A stall —
// garbage collection, a saturated CPU, the kernel giving the CPU to another
// process — delays the pacer, the workers and the reading of answers alike;
// the meter shows it whatever its cause, which Go's own scheduler metrics
// miss when the kernel takes the whole process off the CPU.
type hiccupMeter struct {
	mu         sync.Mutex // guards start and end
	start, end time.Time
	stop       chan struct{}
	done       chan *hdr.Histogram
}

func startHiccups() *hiccupMeter {
	m := &hiccupMeter{stop: make(chan struct{}), done: make(chan *hdr.Histogram, 1)}
	go m.run()
	return m
}

func (m *hiccupMeter) run() {
	h := newHist()
	interval := int64(hiccupTick / time.Microsecond)
	last := time.Now()
	for {
		select {
		case <-m.stop:
			m.done <- h
			return
		default:
		}
		time.Sleep(hiccupTick)
		now := time.Now()
		late := now.Sub(last) - hiccupTick
		last = now
		m.mu.Lock()
		in := !m.start.IsZero() && now.After(m.start) && !now.After(m.end)
		m.mu.Unlock()
		if in {
			v, _ := micros(late) // a stall beyond an hour is an hour
			_ = h.RecordCorrectedValue(v, interval)
		}
	}
}

// setWindow sets (or narrows) the window the meter records.
func (m *hiccupMeter) setWindow(start, end time.Time) {
	m.mu.Lock()
	m.start, m.end = start, end
	m.mu.Unlock()
}

// finish stops the meter and returns its histogram of lateness (µs).
func (m *hiccupMeter) finish() *hdr.Histogram {
	close(m.stop)
	return <-m.done
}

// Health is the generator's health as results.json records it (per cell, and
// per shard of a sharded cell).
func (r *Result) Health() result.GeneratorHealth {
	g := r.Generator
	msr := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	var steal *float64
	if len(g.StealCPUs) > 0 {
		pct := math.Round(g.StealShare*1000) / 10
		steal = &pct
	}
	return result.GeneratorHealth{
		StealPct:            steal,
		CPUs:                g.CPUs,
		CPUPct:              math.Round(g.CPUPercent*10) / 10,
		CPUShare:            math.Round(g.CPUShare*1000) / 1000,
		GCCycles:            g.GCCycles,
		GCPauses:            g.GCPauses,
		GCPauseTotalMs:      msr(g.GCPauseTotal),
		GCPauseMaxMs:        msr(g.GCPauseMax),
		HiccupP99Ms:         msr(g.HiccupP99),
		HiccupMaxMs:         msr(g.HiccupMax),
		SchedLatencyP99Ms:   msr(g.SchedLatencyP99),
		SchedLatencyMaxMs:   msr(g.SchedLatencyMax),
		InvoluntarySwitches: g.InvoluntarySwitches,
		StealCPUs:           []int(g.StealCPUs),
		WarmupRequests:      g.WarmupRequests,
		ExhaustionErrors:    g.ExhaustionErrors,
		PeakInFlight:        r.PeakInFlight,
		PoolFull:            r.PoolFull,
		DispatchLagP99Ms:    r.DispatchLag.P99,
		FreeLagP99Ms:        r.FreeLag.P99,
	}
}
