// Package stats is the wire schema of a server's /stats: what every model
// reports, what the run orchestrator reads, what results.json records under
// "server" and what reports render. It is a leaf, so that readers of results
// do not link the servers. The JSON field names are part of results.json:
// never rename one.
package stats

// Snapshot is the JSON body of /stats. Model-specific figures are set by the
// model; the cluster supervisor sums its children's and lists them in Procs.
type Snapshot struct {
	Model      string            `json:"model"`
	PIDs       []int             `json:"pids"`
	UptimeSec  float64           `json:"uptime_sec"`
	InFlight   int64             `json:"in_flight"`
	Completed  map[string]uint64 `json:"completed"`
	Responses  map[string]uint64 `json:"responses"`
	OSThreads  int               `json:"os_threads"`
	PeakOSThr  int               `json:"os_threads_peak"`
	Goroutines int               `json:"goroutines"`
	RSSBytes   int64             `json:"rss_bytes"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	// GOMAXPROCSReason says why the process runs with that GOMAXPROCS (the
	// per-model policy of `concbench serve`, or the environment).
	GOMAXPROCSReason string `json:"gomaxprocs_reason,omitempty"`

	// MaxThreads is the thread model's cap on concurrent requests.
	MaxThreads int `json:"max_threads,omitempty"`
	// LoopDelay is the event loop's lateness, sampled every 10 ms (loop models).
	LoopDelay *HistSummary `json:"loop_delay,omitempty"`
	// LoopBusySec is how long the event loop has been busy since start
	// (Node's eventLoopUtilization().active): the loop's utilization over a
	// window is the difference of two readings over the uptime's. Only the
	// Node.js reference servers report it.
	LoopBusySec float64 `json:"loop_busy_sec,omitempty"`
	// Pool describes the offload model's worker pool.
	Pool *PoolStats `json:"pool,omitempty"`
	// Procs lists each cluster child's own snapshot; Restarts counts children
	// the supervisor had to start again.
	Procs    []Snapshot `json:"procs,omitempty"`
	Restarts int        `json:"restarts,omitempty"`
	// Runtime is the Go runtime's own account of the process: scheduling
	// latency and GC pauses (every model; the cluster's merges its
	// children's). Absent from the /stats of older versions.
	Runtime *RuntimeStats `json:"runtime,omitempty"`
}

// PoolStats describes a bounded worker pool.
type PoolStats struct {
	Workers        int         `json:"workers"`
	QueueCap       int         `json:"queue_cap"`
	QueueDepth     int         `json:"queue_depth"`
	QueueDepthPeak int         `json:"queue_depth_peak"`
	Busy           int         `json:"busy"`
	Rejected       uint64      `json:"rejected"`
	QueueWait      HistSummary `json:"queue_wait"`
}
