// Package loadgen runs one open-loop attack of one cell — a constant offered
// rate of weighted requests against one server — with vegeta's lib as the
// engine, and returns what it measured in the shape of package result.
//
// # What is measured
//
// vegeta paces the requests (a ConstantPacer), picks targets through a
// Targeter and times each request from the moment a worker picks its tick up
// (Result.Latency). loadgen wraps the pacer to know each request's intended
// send time (see schedule) and keeps, per class of the mix:
//
//   - response time = (Timestamp + Latency) − intended send time: what a user
//     of an open system feels, corrected for coordinated omission. It is the
//     headline figure; the .hgrm and .hlog files hold it.
//   - service time = vegeta's Latency: from the moment the request was
//     actually sent.
//
// and for the cell the dispatch lag = Timestamp − intended send time: how late
// requests left. The measured window is (Warmup, Warmup+Duration] after the
// attack's start; a request belongs to it, and to a second of the timeline, by
// its intended send time, however late it left: requests due during the
// warmup are discarded from every figure even when their backlog leaves
// during the window, and the window's own requests are measured even when
// they leave after it. To let them, sending goes on for at most Config.Drain
// after the window (only for ticks due in it); answers are awaited up to
// Timeout.
//
// A request due in the window whose result has not arrived when the attack
// stops — never sent, or sent and unanswered (cancellation) — is censored: its
// response time is at least (stop − intended send time), and that lower bound
// is recorded in its class's response-time histogram (Result.Censored,
// result.Latency.Censored). A percentile below the least censored value is
// exact; one at or above it is a lower bound, and the reports show it as
// "≥ 1.6 s". The censored requests are the ones that waited longest: leaving
// them out, as wrk2 does, would report the warmup's backlog instead of the
// window.
//
// Response and service time hold the successful requests (and response time
// the censored ones); the failed requests' response times have their own
// histogram (result.Class.Failed), so that fast refusals or 503s do not pull
// the percentiles of the successes down. Histograms are HdrHistograms of
// microseconds (1 µs .. 1 h, 3 significant digits; longer values are
// recorded as 1 h and counted in Result.Clamped). Results are streamed into
// histograms and counters as they arrive and never kept.
//
// # Validity
//
// After the attack the generator judges its own cell (Result.Validity), from
// what it measured alone; it is the only judge of the generator's side (the
// orchestrator, package runner, adds the server's). The
// terms: offered = Config.Rate; sent = Result.SentRPS, the rate of requests
// sent during the window; achieved = Result.AchievedRPS, the rate of answers
// carrying an HTTP status received during the window. The pool is full while
// all MaxConnections connections are busy: requests in flight ≥
// MaxConnections, counted inside the HTTP client, from the moment a vegeta
// worker hands a request over to the moment it closes the response body or
// gets an error. The pool counts as saturated when it was full for at least
// 1 % of the measured window (SaturatedShare; Result.PoolFull, with
// Result.PeakInFlight): below that, waiting for a connection cannot explain a
// p99, nor 5 % of the requests not being sent. Counts compared with the
// offered rate get one request of slack for the window's edges.
//
// The cell is generator-bound — Valid=false, Cause=result.CauseGenerator: its
// latencies describe the generator and must not be read as the server's —
// when any of:
//
//	(a) sent < 95 % of offered (MinSentShare) while the pool was not
//	    saturated: the generator did not keep to the schedule although
//	    connections were free;
//	(b) dispatch lag p99 > 10 ms (MaxDispatchLagP99) while the pool was not
//	    saturated: requests left late although connections were free; or,
//	    the pool saturated for part of the window, the dispatch lag p99 of
//	    the requests that found a connection free (Result.FreeLag: no
//	    moment between their intended and actual send had every connection
//	    busy) > 10 ms, with enough of them for a p99 — a pool full 1 % of
//	    the time excuses the lag of the requests that waited for it, not all;
//	(c) any status-0 error shows that the generator ran out of local ports or
//	    file descriptors (EADDRNOTAVAIL, EMFILE, ENFILE, ENOBUFS), warmup
//	    included;
//	(d) Config.CeilingRPS > 0 and offered > 70 % of it
//	    (GeneratorBoundFraction): too close to the most this generator can
//	    sustain for its own queueing to stay out of the figures (a fact of the
//	    configuration: it is flagged after (f) too);
//	(e) the generator was starved of CPU during the window: its process used
//	    ≥ 90 % of the CPUs it may run on (MaxGeneratorCPUShare of
//	    GOMAXPROCS), or it stalled ≥ 5 ms at the p99 of its hiccup meter
//	    (MaxHiccupP99: a goroutine sleeping 1 ms at a time woke ≥ 5 ms late
//	    for ≥ 1 % of the window, as jHiccup measures) — garbage collection,
//	    its own work or other processes took the CPU. Its timers, sends and
//	    reads queue behind such stalls, so what it measures includes its own
//	    delay, even when the connections look busy (answers it does not read
//	    keep them busy). 5 ms is half the lag bound of (b): stalls that long
//	    for 1 % of the time move the p99 of response times by as much;
//	(f) nothing was measured: the attack stopped before the window began.
//
// A valid cell is over capacity — OverCapacity=true: its latencies are real
// and include queueing — when:
//
//	(g) the pool was saturated: every connection was busy waiting for
//	    answers for ≥ 1 % of the window (the orchestrator makes such a cell
//	    generator-bound, "pool-bound", when rate × service time exceeded
//	    the connections while the server idled: see runner.judgePoolBound); or
//	(h) achieved < 95 % of offered while sent ≥ 95 %: requests left on time
//	    but answers came back slower than that, or not at all.
//
// The upper percentiles of an over-capacity cell are often lower bounds: see
// "What is measured" about the censored requests.
//
// Every flag adds one sentence with its numbers to Validity.Reasons; a
// generator-bound cell also gets a last sentence of evidence: the generator's
// CPU use, involuntary context switches, stalls, goroutine scheduling latency
// (runtime/metrics), GC pauses and the requests it did not send.
//
// Why 10 ms for (b): dispatch lag adds to every response time in absolute
// terms, and plans state SLOs in milliseconds (50–100 ms p99 typically), so the
// bound is absolute too. A bound relative to the inter-arrival time (say 10 %)
// would be 5 µs at 20 000 req/s — below the wake-up jitter of Go timers — and
// fail every healthy high-rate cell, while at 10 req/s it would allow 10 ms
// anyway. On the shared 2-core machine this was built on, an idle Go process
// already wakes from a 1 ms sleep about 2 ms late at the p99, and healthy
// cells showed lag p99s of a few milliseconds: 10 ms leaves room for that
// noise and stays well below the SLOs.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// Thresholds of the validity rules (see the package documentation).
const (
	// MinSentShare is the share of the offered rate below which too few
	// requests were sent (rule a) or answered (rule h).
	MinSentShare = 0.95
	// MaxDispatchLagP99 bounds the dispatch lag p99 of a valid cell whose pool
	// was not saturated (rule b).
	MaxDispatchLagP99 = 10 * time.Millisecond
	// SaturatedShare is the share of the measured window the pool must have
	// been full for to count as saturated.
	SaturatedShare = 0.01
	// GeneratorBoundFraction: cells offered more than this fraction of the
	// generator's ceiling are generator-bound (rule d).
	GeneratorBoundFraction = 0.7
	// MaxGeneratorCPUShare: a generator busier than this share of its CPUs is
	// its own bottleneck (rule e).
	MaxGeneratorCPUShare = 0.9
	// MaxHiccupP99 bounds the generator's own stalls (p99 of its hiccup
	// meter, rule e).
	MaxHiccupP99 = 5 * time.Millisecond
)

// Defaults of Config.
const (
	DefaultMaxConnections = 64
	DefaultTimeout        = 10 * time.Second
	// maxRate bounds Config.Rate: vegeta's pacer works in whole nanoseconds.
	maxRate = 1e7
	// DefaultDrain is how long after Warmup+Duration the ticks due in the
	// window may still be sent when the cell runs behind (Config.Drain).
	DefaultDrain = time.Second
	// cancelGrace is how long Attack keeps receiving results after ctx is
	// cancelled before it returns and leaves the rest to be drained.
	cancelGrace = time.Second
)

// Config is one attack. Zero fields take the documented defaults.
type Config struct {
	// BaseURL is the server, "http://127.0.0.1:PORT". Loopback only unless
	// AllowRemote is set.
	BaseURL     string
	AllowRemote bool
	// Mix holds the weighted targets; each class gets its own histograms.
	// Class names must be unique and targets distinct (results are matched to
	// classes by URL); weights must be > 0.
	Mix []plan.Class
	// Rate is the offered rate in requests per second, constant (open loop).
	Rate float64
	// Phase, when > 0, is when the first tick is due after the attack's
	// start; it must be less than one interval (1/Rate). Zero puts every
	// tick in the middle of its slot (half an interval). Shards of one
	// schedule set it to interleave their ticks: see ShardPhase.
	Phase time.Duration
	// Warmup is sent but not counted; Duration is the measured window.
	Warmup, Duration time.Duration
	// MaxConnections bounds the connection pool (default 64). Connections are
	// kept alive and reused.
	MaxConnections int
	// NewConnections sends every request with "Connection: close", so each
	// one opens a new connection: how a multi-process server balances new
	// connections is then part of what is measured. Off by default.
	NewConnections bool
	// MaxWorkers caps vegeta's worker goroutines (default MaxConnections). A
	// worker carries one request at a time, so with as many workers as
	// connections nothing ever waits for a connection inside the HTTP client:
	// service time stays time spent on a connection, a full pool shows up as
	// dispatch lag (and so in response time), requests in flight equal busy
	// connections, and goroutines stay bounded however slow the server
	// (vegeta's default is unbounded: one more goroutine whenever all are
	// busy). More workers than connections would only queue requests inside
	// the client, counted as service time; fewer make the generator the limit.
	MaxWorkers int
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Drain is how long after the window the backlog of requests due in it
	// may still be sent (default DefaultDrain): the hard bound on sending.
	// Requests due in the window still unsent or unanswered when the attack
	// stops are censored (see "What is measured").
	Drain time.Duration
	// MaxRequests is a hard bound on requests sent, warmup included
	// (default rate·(Warmup+Duration)·1.1 + 100).
	MaxRequests int64
	// Seed orders the mix: see mixSeq. The same seed sends the same sequence.
	Seed int64
	// Transport is TransportFastHTTP or TransportNetHTTP (default
	// DefaultTransport).
	Transport string
	// Pacing is PacingPrecise (the default) or PacingVegeta: who waits for
	// each tick (see precisePacer).
	Pacing string
	// OutDir, when set, receives per class CellID.CLASS.hlog (an HdrHistogram
	// interval log of response time, one histogram per second of the window,
	// written as the attack goes), CellID.CLASS.hgrm (the percentile
	// distribution of response time, in ms) and CellID.CLASS.service.hgrm
	// (the same for service time). CLASS is the class name with characters
	// other than letters, digits, '-', '_' and '.' replaced by '_'.
	OutDir string
	CellID string // default "loadgen"
	// RawOut, when set, receives every measured result in vegeta's binary
	// (gob) encoding, readable by the stock `vegeta report` and `vegeta plot`.
	// Results carry the intended send time as Timestamp and the response time
	// as Latency (see rawSink), the body's length as BytesIn, no body and no
	// headers.
	RawOut io.Writer
	// Progress, when set, is called about once per second from one goroutine,
	// the one that receives results: it must return quickly.
	Progress func(Progress)
	// CeilingRPS is the generator's known ceiling for this target (0 =
	// unknown); see rule (d) and Ceiling.
	CeilingRPS float64
}

// Progress is a running attack's state.
type Progress struct {
	Elapsed time.Duration // since the attack started, warmup included
	Warmup  bool          // still in the warmup
	// Requests and Errors count measured requests so far.
	Requests, Errors int64
	// AchievedRPS is the rate of answers over the last interval (warmup too).
	AchievedRPS float64
	// P99 is the response time p99 of the measured requests so far.
	P99      time.Duration
	InFlight int
}

// Result is what one attack measured.
type Result struct {
	// Classes follow Config.Mix: counts, errors by kind, response and
	// service time.
	Classes []result.Class
	// Timeline has one entry per second of the measured window (the last one
	// may be partial): requests sent in that second, their errors and
	// response time p50/p99.
	Timeline []result.Second
	// OfferedRPS is Config.Rate; SentRPS the rate of the window's requests
	// that were sent (how late they left is DispatchLag); AchievedRPS the
	// rate of answers with an HTTP status (any) received during the window.
	OfferedRPS, SentRPS, AchievedRPS float64
	// Requests counts the measured requests (due in the window, whose result
	// arrived); OK those answered with a status below 400 and no error.
	Requests, OK, Errors int64
	// Censored counts requests due in the window still unanswered when the
	// attack stopped; NeverSent those of them never sent (the generator, or a
	// full pool, held them back); Drained the measured requests sent after
	// the window's end. Clamped counts values above the histograms' range
	// (1 h), recorded as 1 h.
	Censored, NeverSent, Drained, Clamped int64
	// Retries counts requests sent a second time because the server had
	// closed their kept-alive connection while it was idle (the fasthttp
	// transport; net/http's does the same without telling, and is not
	// counted). No other failure is retried.
	Retries     int64
	DispatchLag result.Latency
	// FreeLag is the dispatch lag of the requests that found a connection
	// free: between their intended and actual send the pool was never full,
	// so their lateness is the generator's own (rule b, per request).
	FreeLag result.Latency
	// PeakInFlight is the most requests in flight at once during the window;
	// PoolFull the share of the window during which every connection was busy.
	PeakInFlight int
	PoolFull     float64
	Validity     result.Validity
	// Files maps a kind ("hgrm:CLASS", "hgrm-service:CLASS", "hlog:CLASS") to
	// a path relative to OutDir. The raw output goes to Config.RawOut.
	Files map[string]string
	// Window is the measured window in wall-clock time (the orchestrator aligns
	// /proc samples with it). It ends early when the attack was stopped early.
	Window struct{ Start, End time.Time }
	// Stopped is when the attack stopped: the moment the censored requests'
	// lower bounds count up to.
	Stopped time.Time
	// StoppedBy says what ended the sending: "duration", "max_requests" or
	// "context".
	StoppedBy string
	// Settings in effect.
	MaxConnections, MaxWorkers int
	Transport, Pacing          string
	Generator                  Generator
}

// normalize applies the defaults and checks c.
func (c *Config) normalize() (*url.URL, error) {
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxWorkers == 0 {
		c.MaxWorkers = c.MaxConnections
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.Transport == "" {
		c.Transport = DefaultTransport
	}
	if c.Pacing == "" {
		c.Pacing = PacingPrecise
	}
	if c.CellID == "" {
		c.CellID = "loadgen"
	}
	switch {
	case !(c.Rate > 0) || c.Rate > maxRate:
		return nil, fmt.Errorf("loadgen: rate %g req/s: want > 0 and ≤ %g", c.Rate, float64(maxRate))
	case c.Duration <= 0:
		return nil, fmt.Errorf("loadgen: duration %s: want > 0", c.Duration)
	case c.Phase < 0 || float64(c.Phase) >= 1e9/c.Rate:
		return nil, fmt.Errorf("loadgen: phase %s: want ≥ 0 and less than one interval (%s)", c.Phase, time.Duration(1e9/c.Rate))
	case c.Warmup < 0:
		return nil, fmt.Errorf("loadgen: warmup %s: want ≥ 0", c.Warmup)
	case c.MaxConnections < 0:
		return nil, fmt.Errorf("loadgen: max connections %d: want > 0", c.MaxConnections)
	case c.MaxWorkers < 0:
		return nil, fmt.Errorf("loadgen: max workers %d: want > 0", c.MaxWorkers)
	case c.Timeout < 0:
		return nil, fmt.Errorf("loadgen: timeout %s: want > 0", c.Timeout)
	case c.Drain < 0:
		return nil, fmt.Errorf("loadgen: drain %s: want > 0", c.Drain)
	case c.MaxRequests < 0:
		return nil, fmt.Errorf("loadgen: max requests %d: want > 0", c.MaxRequests)
	case c.Pacing != PacingPrecise && c.Pacing != PacingVegeta:
		return nil, fmt.Errorf("loadgen: pacing %q: want %q or %q", c.Pacing, PacingPrecise, PacingVegeta)
	case c.CeilingRPS < 0:
		return nil, fmt.Errorf("loadgen: ceiling %g req/s: want ≥ 0", c.CeilingRPS)
	case strings.ContainsAny(c.CellID, `/\`):
		return nil, fmt.Errorf("loadgen: cell id %q: want a file name prefix, without slashes", c.CellID)
	}
	if c.MaxRequests == 0 {
		c.MaxRequests = int64(c.Rate*(c.Warmup+c.Duration).Seconds()*1.1) + 100
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loadgen: base URL %q: want http://HOST:PORT", c.BaseURL)
	}
	if !c.AllowRemote && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("loadgen: refusing to attack %s: not a loopback address (set AllowRemote to attack another host)", u.Host)
	}
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
// Other names are not resolved: a name could point anywhere.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Attack runs one open-loop attack of cfg. It returns when the attack is over:
// Warmup+Duration after it started (sending stops then; answers to requests
// already sent are awaited, up to Timeout) or MaxRequests sent, whichever
// comes first. Cancelling ctx stops sending at once; Attack then waits at most
// a second for answers and returns what was measured, with ctx's error. An
// error writing the files or RawOut is returned with the Result, which stays
// valid; a nil Result means the attack did not start.
//
// Attacks may run concurrently, but the generator's health figures (CPU, GC,
// stalls) are the whole process's: run one at a time for a fair verdict.
func Attack(ctx context.Context, cfg Config) (*Result, error) {
	base, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	urls, err := classURLs(cfg.BaseURL, cfg.Mix)
	if err != nil {
		return nil, err
	}
	fl := newFlight(cfg.MaxConnections)
	tg, err := newMixTargeter(urls, cfg.Mix, cfg.Seed, cfg.NewConnections)
	if err != nil {
		return nil, err
	}
	cl, err := newClient(cfg.Transport, base, cfg.MaxConnections, cfg.Timeout, fl)
	if err != nil {
		return nil, err
	}
	if ft, ok := cl.http.Transport.(*fastTransport); ok && cfg.RawOut != nil {
		ft.lengthHeader = true
	}
	sinks, err := cfg.sinks(fl)
	if err != nil {
		return nil, err
	}
	rec := newRecorder(&cfg, urls, fl, sinks...)
	sched := newSchedule(cfg.Rate, cfg.Phase, cfg.Warmup+cfg.Duration, uint64(cfg.MaxRequests), rec.started)
	rec.sched = sched

	var pacer vegeta.Pacer = sched
	if cfg.Pacing == PacingPrecise {
		pp := newPrecisePacer(sched)
		defer pp.close() // after results is closed: vegeta calls Pace no more
		pacer = pp
	}
	atk := newAttacker(cl, cfg.MaxWorkers)
	rec.stopSending = func() { atk.Stop() }
	results := atk.Attack(tg.targeter(), pacer, cfg.Warmup+cfg.Duration+cfg.Drain, cfg.CellID)
	drained := rec.consume(ctx, results, func() { atk.Stop() })
	if drained {
		cl.closeIdle()
	} else {
		// Requests still in flight end within Timeout; close their
		// connections once they did.
		go func() {
			for range results {
			}
			cl.closeIdle()
		}()
	}
	res, ferr := rec.result()
	if cl.retries != nil {
		res.Retries = cl.retries()
	}
	if err := ctx.Err(); err != nil && res.StoppedBy == "context" {
		if ferr != nil {
			return res, fmt.Errorf("%w; %v", err, ferr)
		}
		return res, err
	}
	return res, ferr
}

// sinks returns the sinks cfg asks for: the raw output, the histogram files,
// the progress report. The order is that of their errors at the end.
func (c *Config) sinks(fl *flight) ([]sink, error) {
	var sinks []sink
	if c.RawOut != nil {
		sinks = append(sinks, newRawSink(c.RawOut))
	}
	if c.OutDir != "" {
		names := make([]string, len(c.Mix))
		for i, m := range c.Mix {
			names[i] = m.Name
		}
		files, err := newHistFiles(c.OutDir, c.CellID, c.Rate, names)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, files)
	}
	if c.Progress != nil {
		sinks = append(sinks, newProgressSink(c.Progress, fl))
	}
	return sinks, nil
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// round3 rounds x to 3 decimals (figures are measured to 3 significant digits).
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
