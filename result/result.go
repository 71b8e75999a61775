// Package runs holds the result model of a benchmark run: the types of
// results.json, and reading and writing them. The load generator fills it once;
// every renderer (plots, HTML, Markdown, comparisons) reads the same model and
// never recomputes what was measured.
package result

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/units"
)

// SchemaVersion is the version of results.json this package writes. Readers
// refuse files of another major version.
const SchemaVersion = 1

// FileName is the name of the results file inside a results directory.
const FileName = "results.json"

// Run is everything a run measured. Latencies are in milliseconds (fields
// ending in _ms), rates in requests per second, sizes in bytes.
type Run struct {
	Schema   int         `json:"schema"`
	Plan     plan.Plan   `json:"plan"`
	Env      Environment `json:"environment"`
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	// Interrupted is set when the run was stopped (Ctrl-C) before every cell ran:
	// Cells holds the finished ones.
	Interrupted bool   `json:"interrupted"`
	Cells       []Cell `json:"cells"`
	// SLOs holds every threshold check of the plan against the cells.
	SLOs []SLOResult `json:"slos,omitempty"`
	// Skipped lists the plan's models that could not run on this machine (a
	// reference system not installed), with why: they have no cells.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Calibrations are the heavy classes the plan asked to calibrate
	// (plan.Class.Calibrate), scaled per model before the cells: what each
	// model's cells sent, and how long one such request took.
	Calibrations []Calibration `json:"calibrations,omitempty"`
}

// Calibration is one class of one scenario scaled for one model, so that a
// request of it takes about GoalMs on that server: a unit of work costs
// differently in Go, V8 and Lua.
type Calibration struct {
	Model    string `json:"model"`
	Scenario string `json:"scenario"`
	Class    string `json:"class"`
	// Target is the class's target as the plan wrote it; Used is what the
	// model's cells sent instead. Param is the parameter scaled (iters, n, or
	// "n, reps").
	Target string  `json:"target"`
	Used   string  `json:"used"`
	Param  string  `json:"param"`
	GoalMs float64 `json:"goal_ms"`
	// GoalFrom names the Go model whose measured time was this reference's
	// goal (the plan's goal was the model's): a pair's heavy requests are
	// sized to each other, not each to the plan's goal. A backtracking
	// regex steps by ×2, so each alone can land up to ×1.4 either side of
	// the goal, and a pair ×2 apart. "" when the goal is the plan's.
	GoalFrom string `json:"goal_from,omitempty"`
	// MeasuredMs is the median time of one request at Used on the model's
	// server, idle and warmed up, timed by the runner over loopback (so
	// service time); Samples how many requests it is the median of.
	MeasuredMs float64 `json:"measured_ms"`
	Samples    int     `json:"samples"`
	// Note says why Used is not at the goal (a bound, a failed request), or "".
	Note string `json:"note,omitempty"`
}

// GoalText is the goal as the log and the report show it: "100 ms", or
// "72.5 ms, cluster's measured time".
func (c Calibration) GoalText() string {
	goal := units.Ms(c.GoalMs)
	if c.GoalFrom != "" {
		goal += ", " + c.GoalFrom + "'s measured time"
	}
	return goal
}

// CalibrationFor returns the calibration of model's class in scenario, or nil.
func (r *Run) CalibrationFor(model, scenario, class string) *Calibration {
	for i := range r.Calibrations {
		c := &r.Calibrations[i]
		if c.Model == model && c.Scenario == scenario && c.Class == class {
			return c
		}
	}
	return nil
}

// Skipped is a model of the plan that did not run, and why (one line, naming
// the command that installs what is missing).
type Skipped struct {
	Model  string `json:"model"`
	Reason string `json:"reason"`
}

// Environment says where and how the run was measured.
type Environment struct {
	ConcbenchVersion string `json:"concbench_version"`
	Commit           string `json:"commit,omitempty"`
	GoVersion        string `json:"go_version"`
	OS               string `json:"os"`
	Arch             string `json:"arch"`
	Kernel           string `json:"kernel"`
	CPUModel         string `json:"cpu_model"`
	Cores            int    `json:"cores"`
	MemoryBytes      int64  `json:"memory_bytes,omitempty"`
	Hostname         string `json:"hostname,omitempty"`
	// References names the program behind each reference model the run
	// used, with its version ("node-loop": "node v20.19.2").
	References map[string]string `json:"references,omitempty"`
	// Pinning records which CPUs the servers and the load generator were
	// restricted to ("" when not pinned) and how.
	Pinning Pinning `json:"pinning"`
	// LoadgenGOMAXPROCS is the generator's; each cell records its server's.
	LoadgenGOMAXPROCS int `json:"loadgen_gomaxprocs"`
	// ServerBinary is the executable the Go models ran in: concbench-serve
	// (the servers alone) or concbench itself (launch.ServerBinary).
	ServerBinary string `json:"server_binary,omitempty"`
	// CeilingRPS is the generator's measured ceiling against /plain when known
	// (concbench ceiling); cells offered above GeneratorBoundFraction of it are flagged.
	CeilingRPS float64 `json:"ceiling_rps,omitempty"`
}

// Pinning is the CPU affinity of the processes of a run.
type Pinning struct {
	ServerCPUs  string `json:"server_cpus"`
	LoadgenCPUs string `json:"loadgen_cpus"`
	Note        string `json:"note,omitempty"`
}

// Cell is one model × scenario × rate × repetition.
type Cell struct {
	// ID is unique in the run and safe as a file name prefix, e.g.
	// "eventloop.cpu-mix.r500.1".
	ID       string  `json:"id"`
	Model    string  `json:"model"`
	Scenario string  `json:"scenario"`
	Rep      int     `json:"rep"`
	Rate     float64 `json:"offered_rps"`
	// Duration of the measured window; Warmup preceded it and is not counted.
	DurationSec float64 `json:"duration_sec"`
	WarmupSec   float64 `json:"warmup_sec"`
	// ServerArgs is the exact `serve` command line of the cell, its program
	// named "concbench-serve" or "concbench" (Environment.ServerBinary).
	ServerArgs     []string `json:"server_args"`
	MaxConnections int      `json:"max_connections"`

	// Sent is the rate at which requests actually left; Achieved the rate of
	// answers received within the window (any status).
	SentRPS     float64 `json:"sent_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	OK          int64   `json:"ok"`
	Errors      int64   `json:"errors"`
	// MeasuredSec is the window actually measured: DurationSec, or less when
	// the attack stopped early (max_requests, Ctrl-C). Rates divide by it. 0
	// in files written before it existed: read DurationSec then (MeasuredSecs).
	MeasuredSec float64 `json:"measured_sec,omitempty"`
	// Censored counts the requests due in the window that were still
	// unanswered when the attack stopped (NeverSent of them never left): each
	// is in its class's response time as a lower bound (see Latency).
	Censored  int64 `json:"censored,omitempty"`
	NeverSent int64 `json:"never_sent,omitempty"`
	// Drained counts the requests due in the window that left after it (the
	// backlog an over-capacity cell sends while it drains).
	Drained int64 `json:"drained,omitempty"`
	// PoolFull is the share of the window during which every connection was
	// busy.
	PoolFull float64 `json:"pool_full,omitempty"`
	// Retries counts requests the generator sent twice because the server
	// had closed their kept-alive connection while idle; Clamped the values
	// above the histograms' range (1 h), recorded as 1 h.
	Retries int64 `json:"retries,omitempty"`
	Clamped int64 `json:"clamped,omitempty"`
	// DispatchLag is how late requests left relative to their intended send
	// time: the generator's own delay (plus waiting for a free connection).
	DispatchLag  Latency `json:"dispatch_lag"`
	PeakInFlight int     `json:"peak_in_flight"`

	Classes  []Class  `json:"classes"`
	Validity Validity `json:"validity"`
	// Resources is the server's process figures (all processes for cluster).
	Resources Resources `json:"resources"`
	// Server is the server's own /stats at the end of the window (the first
	// reading asked for at or after its end), with the loop-delay and
	// queue-wait histograms and the runtime figures narrowed to the window
	// (from the last reading answered by its start).
	Server stats.Snapshot `json:"server"`
	// Generator is the load generator's own memory over the window.
	Generator Generator `json:"generator"`
	// Discarded are earlier attempts at this cell, rerun because they came
	// out generator-bound for a transient reason (plan.Plan.Retries), oldest
	// first; their files were overwritten by the kept attempt's.
	Discarded []Attempt `json:"discarded_attempts,omitempty"`
	// Timeline has one entry per second of the measured window.
	Timeline []Second `json:"timeline"`
	// Files maps a kind ("hgrm:CLASS", "hlog:CLASS", "raw", "profile:cpu", ...)
	// to a path relative to the results directory.
	Files map[string]string `json:"files,omitempty"`
	// Shards lists the load generators of a cell whose schedule was split
	// over several (concbench attack --shard, run --generators, merge): one
	// entry in a shard's own results, all of them in the merged cell. Empty
	// for a cell driven by one generator.
	Shards []Shard `json:"shards,omitempty"`
}

// Shard is one load generator's share of a cell: what it was told, when it
// started and how healthy it was.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Host is the machine (or pod) the shard ran on.
	Host       string  `json:"host,omitempty"`
	OfferedRPS float64 `json:"offered_rps"`
	// PlannedStart is the shared start barrier (--start-at); Start is when
	// this shard's schedule actually began, LateMs the difference as read on
	// its own clock.
	PlannedStart time.Time `json:"planned_start"`
	Start        time.Time `json:"start"`
	LateMs       float64   `json:"late_ms"`
	Clock        Clock     `json:"clock"`
	// Requests were sent in the window; Missed were due but never sent (in no
	// histogram); Late were sent after the window.
	Requests int64    `json:"requests"`
	Missed   int64    `json:"missed"`
	Validity Validity `json:"validity"`
	// WindowStart and WindowEnd are the shard's measured window.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Generator is the shard's own health over the window.
	Generator GeneratorHealth `json:"generator"`
	// Dir is the shard's results directory, as merge read it.
	Dir string `json:"dir,omitempty"`
}

// Clock is what a host knew about its clock's synchronisation at a shard's
// start (Linux adjtimex: the kernel's NTP discipline). Shards on different
// hosts agree on the start barrier only as well as their clocks agree: two
// synchronised clocks with estimated errors e1 and e2 may differ by e1+e2.
type Clock struct {
	// Source says where the figures come from ("adjtimex"), or why there
	// are none.
	Source       string  `json:"source"`
	Synchronized bool    `json:"synchronized"`
	EstErrorMs   float64 `json:"est_error_ms"`
	MaxErrorMs   float64 `json:"max_error_ms"`
}

// GeneratorHealth is a load generator's own figures over a cell's window (see
// package loadgen, rule e).
type GeneratorHealth struct {
	CPUs                int     `json:"cpus"`
	CPUPct              float64 `json:"cpu_pct"`
	CPUShare            float64 `json:"cpu_share"`
	GCCycles            int64   `json:"gc_cycles"`
	GCPauses            int64   `json:"gc_pauses"`
	GCPauseTotalMs      float64 `json:"gc_pause_total_ms"`
	GCPauseMaxMs        float64 `json:"gc_pause_max_ms"`
	HiccupP99Ms         float64 `json:"hiccup_p99_ms"`
	HiccupMaxMs         float64 `json:"hiccup_max_ms"`
	SchedLatencyP99Ms   float64 `json:"sched_latency_p99_ms"`
	SchedLatencyMaxMs   float64 `json:"sched_latency_max_ms"`
	InvoluntarySwitches int64   `json:"involuntary_switches"`
	// StealPct is the share of the window (%) a hypervisor took the
	// generator's CPUs (StealCPUs) away while they had work: /proc/stat's
	// steal column, 0 on bare metal; absent when it could not be read.
	StealPct         *float64 `json:"steal_pct,omitempty"`
	StealCPUs        []int    `json:"steal_cpus,omitempty"`
	WarmupRequests   int64    `json:"warmup_requests"`
	ExhaustionErrors int64    `json:"exhaustion_errors,omitempty"`
	PeakInFlight     int      `json:"peak_in_flight"`
	PoolFull         float64  `json:"pool_full"`
	DispatchLagP99Ms float64  `json:"dispatch_lag_p99_ms"`
	// FreeLagP99Ms is the dispatch lag p99 of the requests that found a
	// connection free (the pool was not full between their intended and
	// actual send): the generator's own lateness.
	FreeLagP99Ms float64 `json:"free_lag_p99_ms"`
}

// Class is one traffic class of a cell.
type Class struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Weight int    `json:"weight"`
	Heavy  bool   `json:"heavy,omitempty"`
	// Bounded: the plan's class is meant to fail fast (plan.Class.Bounded).
	Bounded bool `json:"bounded,omitempty"`

	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	// Errors by kind: "timeout", "refused", "reset", "status_4xx", "status_5xx", "other".
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// Response time counts from each request's intended send time (what a user
	// of an open system feels; corrected for coordinated omission). It is the
	// headline figure. Service time counts from the moment the request was
	// actually sent (vegeta's latency). Both hold the successful requests
	// only (Response also the censored ones, as lower bounds): a fast refusal
	// or a 503 must not pull a percentile down. Failed holds the response
	// time of the failed requests (nil when none failed; files written before
	// it existed mixed failures into Response).
	Response Latency  `json:"response"`
	Service  Latency  `json:"service"`
	Failed   *Latency `json:"failed,omitempty"`
}

// Latency is a latency distribution's summary, in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	Mean   float64 `json:"mean_ms"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	P9999  float64 `json:"p99_99_ms"`
	Max    float64 `json:"max_ms"`
	StdDev float64 `json:"stddev_ms"`
	// HDR is the distribution itself, in microseconds: an HdrHistogram in its
	// compressed base64 encoding (hdrhistogram-go Encode, V2 format; 1 µs ..
	// 1 h, 3 significant digits), so results of one cell can be merged
	// exactly (concbench merge, and the reports pooling repetitions: Pool).
	// Empty in files written before it existed.
	HDR string `json:"hdr,omitempty"`
	// Censored counts values that are lower bounds: requests still unanswered
	// (or never sent) when the attack stopped, recorded as the time they had
	// waited by then. CensoredMin is the least of them (the lowest value of
	// its histogram bucket). A percentile below CensoredMin is exact (raising
	// values above it cannot move it); one at or above it, and Mean, StdDev
	// and Max, are lower bounds: see LowerBound.
	Censored    int64   `json:"censored,omitempty"`
	CensoredMin float64 `json:"censored_min_ms,omitempty"`
}

// LowerBound reports whether v, a percentile of l (ms), is only a lower
// bound of the true figure because censored values may lie at or below it.
func (l Latency) LowerBound(v float64) bool { return l.Censored > 0 && v >= l.CensoredMin }

// MinSamples is the fewest values a quantile q (0.99 for p99) may be read
// from: 10/(1−q), so that ten values lie beyond it. Below it the quantile is
// the maximum of a few values, not the tail it names (with 50 values, p99 =
// p99.9 = max).
func MinSamples(q float64) int64 {
	if q >= 1 {
		return math.MaxInt64
	}
	x := 10 / (1 - q) // 1 − 0.9999 is not exact: allow a relative 1e-9
	return int64(math.Ceil(x - x*1e-9))
}

// Enough reports whether l holds enough values to read its quantile q.
func (l Latency) Enough(q float64) bool { return l.Count >= MinSamples(q) }

// MeasuredSecs is the window actually measured, for files written before
// MeasuredSec existed too.
func (c *Cell) MeasuredSecs() float64 {
	if c.MeasuredSec > 0 {
		return c.MeasuredSec
	}
	return c.DurationSec
}

// Validity says whether a cell measured the server.
type Validity struct {
	// Valid is false when the cell's figures must not be read as the server's
	// working figures; Cause says why.
	Valid bool `json:"valid"`
	// OverCapacity is set on a valid cell whose server could not keep up with
	// the offered rate: latencies are real and include queueing.
	OverCapacity bool `json:"over_capacity"`
	// Cause says what made an invalid cell invalid (empty on a valid one):
	//   - CauseGenerator: the load generator limited the cell (set by the
	//     generator's own verdict, or by the orchestrator for a cell offered
	//     too close to the generator's ceiling): its latencies describe the
	//     generator, not the server.
	//   - CauseServer: the server failed during the cell: it did not start,
	//     exited, (cluster) restarted or lost a child process, or answered no
	//     request successfully. The model failed at this load: that is the
	//     finding.
	// When both apply, Cause is CauseServer: a crashed server is the finding.
	// Files written before this field existed have no Cause: read an invalid
	// cell without one as CauseGenerator.
	Cause string `json:"cause,omitempty"`
	// Reasons explain every flag, one sentence each.
	Reasons []string `json:"reasons,omitempty"`
	// Transient is set on a generator-bound cell whose every generator flag
	// came from the machine's state during the window (the generator stalled,
	// sent late or too little), none from the configuration (a rate near the
	// generator's ceiling, a pool too small, ports exhausted): a rerun may
	// measure the server (see plan.Plan.Retries). Any later Invalidate clears
	// it.
	Transient bool `json:"transient,omitempty"`
}

// Attempt is a discarded attempt at a cell: what made it invalid, and the
// generator's health then.
type Attempt struct {
	Validity  Validity         `json:"validity"`
	Generator *GeneratorHealth `json:"generator,omitempty"`
}

// The causes of an invalid cell (Validity.Cause).
const (
	CauseGenerator = "generator"
	CauseServer    = "server"
)

// Invalidate marks v invalid for cause, with one more reason (none when
// reason is empty). CauseServer outranks CauseGenerator: once a cell's server
// failed, the cause stays CauseServer.
func (v *Validity) Invalidate(cause, reason string) {
	v.Valid = false
	v.Transient = false
	if v.Cause != CauseServer {
		v.Cause = cause
	}
	if reason != "" {
		v.Reasons = append(v.Reasons, reason)
	}
}

// ServerFailed reports whether v is invalid because the server failed.
func (v Validity) ServerFailed() bool { return !v.Valid && v.Cause == CauseServer }

// Resources are the server processes' figures over the measured window, sampled
// every 250 ms from /proc.
type Resources struct {
	Samples       int     `json:"samples"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	MeanCPUPct    float64 `json:"mean_cpu_pct"`
	PeakCPUPct    float64 `json:"peak_cpu_pct"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	MeanRSSBytes  int64   `json:"mean_rss_bytes"`
	PeakThreads   int     `json:"peak_threads"`
	VoluntaryCtx  int64   `json:"voluntary_ctx_switches"`
	InvolCtx      int64   `json:"involuntary_ctx_switches"`
	CPUPer1kReqMs float64 `json:"cpu_ms_per_1k_requests"`

	// PSS (proportional set size, /proc/PID/smaps_rollup) counts a page
	// shared by n processes as 1/n in each, so summed over a process tree
	// (a cluster) it counts shared pages once, where the summed RSS above
	// counts them in every process. 0 when smaps_rollup could not be read.
	PeakPSSBytes int64 `json:"peak_pss_bytes,omitempty"`
	MeanPSSBytes int64 `json:"mean_pss_bytes,omitempty"`

	// IdleRSSBytes and IdleThreads are the server's first reading of the
	// cell, once it answered its health check and went quiet (two 100 ms
	// steps in a row with at most one tick of CPU, RSS within 1 MiB and
	// the same threads; IdleWaitSec is how long that took, at most 5 s),
	// before any request of the cell (warmup included): what the runtime
	// costs before load (V8's heap, node-pool's booted workers, Apache's
	// pre-created threads). 0 when not read (files written before they
	// existed).
	IdleRSSBytes int64   `json:"idle_rss_bytes,omitempty"`
	IdleThreads  int     `json:"idle_threads,omitempty"`
	IdleWaitSec  float64 `json:"idle_wait_sec,omitempty"`

	// ActiveThreads counts the server's threads that ran over the window:
	// those whose context switches rose between the two readings that
	// enclose it (the last of the warmup and the first after it, per-thread
	// /proc files read there only), a thread started in between included.
	// A thread-per-request server uses a thread per request in flight,
	// whether it made it on demand (thread) or at start (Apache's worker
	// MPM keeps 256 waiting, and those never given a request do not run).
	// 0 when not read.
	ActiveThreads int `json:"active_threads,omitempty"`

	// ServerStealPct is the share (%) of the server CPUs' time over the
	// window that the hypervisor gave to something else (/proc/stat steal
	// of the CPUs the server was pinned to): the server's latencies then
	// measure the host as well. Absent when not read (an attached target,
	// files written before it existed).
	ServerStealPct *float64 `json:"server_steal_pct,omitempty"`
}

// Generator is the load generator's process (the concbench run process:
// generator and orchestrator) at the start and the end of a cell's measured
// window: a generator whose memory grows with the run drifts on long runs.
// Heap is the live heap as of the last garbage collection
// (/gc/heap/live:bytes); RSS is the process's resident set from /proc. Zero
// when not measured (files written before these fields existed).
type Generator struct {
	HeapStartBytes int64 `json:"heap_start_bytes"`
	HeapEndBytes   int64 `json:"heap_end_bytes"`
	RSSStartBytes  int64 `json:"rss_start_bytes"`
	RSSEndBytes    int64 `json:"rss_end_bytes"`
	// Health is the generator's CPU, stalls, GC and the host's steal over the
	// window: the evidence the generator-bound rules judged (absent in files
	// written before it existed, and for merged shards: see Cell.Shards).
	Health *GeneratorHealth `json:"health,omitempty"`
}

// Second is one second of a cell's measured window.
type Second struct {
	T         int              `json:"t"` // seconds since the window started
	Requests  int64            `json:"requests"`
	Errors    int64            `json:"errors"`
	Censored  int64            `json:"censored,omitempty"`
	ErrorKind map[string]int64 `json:"errors_by_kind,omitempty"`
	P50       float64          `json:"p50_ms"`
	P99       float64          `json:"p99_ms"`
	// Server figures sampled in this second (zero when unavailable).
	RSSBytes    int64   `json:"rss_bytes,omitempty"`
	Threads     int     `json:"threads,omitempty"`
	CPUPct      float64 `json:"cpu_pct,omitempty"`
	LoopDelayMs float64 `json:"loop_delay_p99_ms,omitempty"`
	QueueDepth  int     `json:"queue_depth,omitempty"`
	// The load generator's own memory at the end of this second (see
	// Generator).
	GeneratorRSSBytes  int64 `json:"generator_rss_bytes,omitempty"`
	GeneratorHeapBytes int64 `json:"generator_heap_bytes,omitempty"`
}

// SLOResult is one plan threshold checked against one cell and class.
type SLOResult struct {
	Expr   string  `json:"expr"`
	Cell   string  `json:"cell"`
	Class  string  `json:"class,omitempty"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Passed bool    `json:"passed"`
	// Skipped is set (and Passed left false) when the check could not be
	// made: the cell was invalid, so its figure does not describe the server,
	// or the class had no request in the measured window, so it has no figure.
	// Reason says which.
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Load reads results.json from a results directory or a file path.
func Load(path string) (*Run, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a concbench results file: %w", path, err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: results schema %d, this concbench reads %d", path, r.Schema, SchemaVersion)
	}
	return &r, nil
}

// Save writes r to dir/results.json atomically: a crash or Ctrl-C leaves either
// the previous file or the new one, never half of one.
func Save(dir string, r *Run) error {
	r.Schema = SchemaVersion
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FileName), append(b, '\n'))
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
