package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/result"
)

// Histogram geometry: microseconds, 1 µs .. 60 s, 3 significant digits.
const (
	histMin = 1
	histMax = 60_000_000
	histSig = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histSig) }

// micros converts d to histogram units, clamped to the histogram's range.
func micros(d time.Duration) int64 {
	v := d.Microseconds()
	switch {
	case v < histMin:
		return histMin
	case v > histMax:
		return histMax
	}
	return v
}

// recorder receives vegeta's results as they arrive and folds them into
// histograms, counters and the files of the attack. Every method but started
// runs on the one goroutine that reads the results channel (consume).
type recorder struct {
	cfg   *Config
	sched *schedule
	fl    *flight
	byURL map[string]int

	classes []*classRec
	all     *hdr.Histogram // response time of every measured request (progress)
	lag     *hdr.Histogram // dispatch lag of every measured request
	scratch *hdr.Histogram // merges a second's classes for the timeline

	// The window is (w, w+d] after began, in offsets of the schedule.
	w, d      time.Duration
	began     time.Time
	haveBegan bool
	winStart  time.Time
	winEnd    time.Time
	cancelled time.Time // when ctx was cancelled; zero if it was not
	// maxEnd is where the window ends if MaxRequests stops the sending first
	// (the end of the last allowed tick's slot, at most winEnd).
	maxEnd time.Time

	secs     []*secRec // open seconds of the window, nil once written
	next     int       // first second not yet written
	timeline []result.Second

	// answers counts the answers received in the window; answersToMax those
	// received by maxEnd, the window's end when MaxRequests stops the attack.
	// Neither counts an answer received after ctx was cancelled: the window
	// then ends at the cancellation. Each is divided by its own window.
	requests, answers, answersToMax int64
	late, unmatched                 int64
	gen                             Generator

	raw    vegeta.Encoder
	rawBuf *bufio.Writer
	errs   []error // file and raw-output errors, first per destination

	// progress
	lastProgress time.Time
	answersAll   int64 // answers received, warmup included
	lastAnswers  int64

	hiccups *hiccupMeter

	hmu      sync.Mutex // guards the health snapshots and timers
	hFrom    healthSnap
	hTo      healthSnap
	haveFrom bool
	haveTo   bool
	timers   []*time.Timer
}

// classRec is one class of the mix.
type classRec struct {
	name, file string
	requests   int64
	ok         int64
	kinds      [nKinds]int64
	resp, svc  *hdr.Histogram

	hlog     *hdr.HistogramLogWriter
	hlogFile *os.File
	hlogBuf  *bufio.Writer
	hlogErr  error
}

// secRec is one open second of the window. Its histograms are packed (they
// grow with the buckets used), so the seconds still waiting for slow answers
// cost little.
type secRec struct {
	requests, errors int64
	kinds            [nKinds]int64
	hist             []*hdr.PackedHistogram // per class, response time
}

func newRecorder(cfg *Config, urls []string, fl *flight) (*recorder, error) {
	r := &recorder{
		cfg:     cfg,
		fl:      fl,
		byURL:   make(map[string]int, len(urls)),
		all:     newHist(),
		lag:     newHist(),
		scratch: newHist(),
		w:       cfg.Warmup,
		d:       cfg.Duration,
		secs:    make([]*secRec, int((cfg.Duration+time.Second-1)/time.Second)),
	}
	for i, u := range urls {
		r.byURL[u] = i
		c := &classRec{name: cfg.Mix[i].Name, resp: newHist(), svc: newHist()}
		c.file = cfg.CellID + "." + fileSafe(c.name)
		r.classes = append(r.classes, c)
	}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("loadgen: %v", err)
		}
		for _, c := range r.classes {
			f, err := os.Create(filepath.Join(cfg.OutDir, c.file+".hlog"))
			if err != nil {
				r.closeFiles()
				return nil, fmt.Errorf("loadgen: %v", err)
			}
			c.hlogFile = f
			c.hlogBuf = bufio.NewWriter(f)
			c.hlog = hdr.NewHistogramLogWriter(c.hlogBuf)
		}
	}
	if cfg.RawOut != nil {
		r.rawBuf = bufio.NewWriterSize(cfg.RawOut, 64<<10)
		r.raw = vegeta.NewEncoder(r.rawBuf)
	}
	r.hiccups = startHiccups()
	return r, nil
}

// fileSafe maps a class name to a file name part.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// started is the schedule's onStart: it runs once on vegeta's pacing
// goroutine, before the first tick, with the attack's start.
func (r *recorder) started(began time.Time) {
	start, end := began.Add(r.w), began.Add(r.w+r.d)
	r.fl.setWindow(start, end)
	r.hiccups.setWindow(start, end)
	snap := func(to bool) func() {
		return func() {
			s := takeHealth()
			r.hmu.Lock()
			if to {
				r.hTo, r.haveTo = s, true
			} else {
				r.hFrom, r.haveFrom = s, true
			}
			r.hmu.Unlock()
		}
	}
	r.hmu.Lock()
	r.timers = append(r.timers,
		time.AfterFunc(time.Until(start), snap(false)),
		time.AfterFunc(time.Until(end), snap(true)))
	r.hmu.Unlock()
}

// learnStart reads the attack's start from the schedule (set before the first
// tick, so before any result).
func (r *recorder) learnStart() {
	began, ok := r.sched.start()
	if !ok {
		return
	}
	r.began, r.haveBegan = began, true
	r.winStart, r.winEnd = began.Add(r.w), began.Add(r.w+r.d)
	r.maxEnd = began.Add(r.maxRequestsEnd())
	for _, c := range r.classes {
		r.hlogHeader(c)
	}
}

// inWindow reports whether t is in the measured window (start, end].
func (r *recorder) inWindow(t time.Time) bool { return t.After(r.winStart) && !t.After(r.winEnd) }

// maxRequestsEnd is the end of the window, as an offset from began, when
// MaxRequests stops the sending: the end of the last allowed tick's slot.
func (r *recorder) maxRequestsEnd() time.Duration {
	return min(r.w+r.d, r.sched.slotEnd(r.sched.max-1))
}

// consume receives results until vegeta closes the channel (and reports
// drained) or, once ctx is cancelled, for at most cancelGrace more.
func (r *recorder) consume(ctx context.Context, results <-chan *vegeta.Result, stop func()) (drained bool) {
	var tick <-chan time.Time
	if r.cfg.Progress != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
		r.lastProgress = time.Now()
	}
	done := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case res, ok := <-results:
			if !ok {
				return true
			}
			r.add(res)
		case now := <-tick:
			if r.haveBegan {
				r.flush(len(r.secs), now, false)
			}
			r.progress()
		case <-done:
			r.cancelled = time.Now()
			stop()
			done = nil
			t := time.NewTimer(cancelGrace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			return false
		}
	}
}

// add folds one result in. A request belongs to the measured window when it
// was sent (vegeta's Timestamp) inside it, and to the second of the timeline
// in which it was sent; its response time counts from its intended send time,
// which may lie before the window (a backlog left by the warmup is measured
// with all its waiting).
func (r *recorder) add(res *vegeta.Result) {
	if !r.haveBegan {
		r.learnStart()
	}
	intended := r.began.Add(r.sched.at(res.Seq))
	end := res.Timestamp.Add(res.Latency)

	kind := -1
	if res.Error != "" {
		var exhausted bool
		kind, exhausted = classify(res.Code, res.Error)
		if exhausted {
			if r.gen.ExhaustionErrors == 0 {
				r.gen.ExhaustionSample = res.Error
			}
			r.gen.ExhaustionErrors++
		}
	}
	if res.Code != 0 {
		r.answersAll++
		// Every answer received before the cancellation ended before it
		// (end ≤ now when it is read), so none counted earlier lies after it.
		if r.inWindow(end) && (r.cancelled.IsZero() || !end.After(r.cancelled)) {
			r.answers++
			if !end.After(r.maxEnd) {
				r.answersToMax++
			}
		}
	}
	switch {
	case !res.Timestamp.After(r.winStart):
		r.gen.WarmupRequests++
		return
	case res.Timestamp.After(r.winEnd): // sent late, after the window
		r.late++
		return
	}
	ci, ok := r.byURL[res.URL]
	if !ok {
		r.unmatched++
		return
	}
	lag := res.Timestamp.Sub(intended)
	if lag < 0 { // only the nanoseconds between vegeta's start and ours
		lag = 0
	}
	resp := micros(end.Sub(intended))

	r.requests++
	c := r.classes[ci]
	c.requests++
	if kind < 0 {
		c.ok++
	} else {
		c.kinds[kind]++
	}
	_ = c.resp.RecordValue(resp) // values are clamped to the range: no error
	_ = c.svc.RecordValue(micros(res.Latency))
	_ = r.all.RecordValue(resp)
	_ = r.lag.RecordValue(micros(lag))

	s := int((res.Timestamp.Sub(r.winStart) - 1) / time.Second)
	if s < r.next { // its second was written already: cannot happen within Timeout+secondGrace
		s = min(r.next, len(r.secs)-1)
	}
	sec := r.sec(s)
	sec.requests++
	if kind >= 0 {
		sec.errors++
		sec.kinds[kind]++
	}
	if sec.hist[ci] == nil {
		sec.hist[ci] = hdr.NewPacked(histMin, histMax, histSig)
	}
	_ = sec.hist[ci].RecordValue(resp)
	r.flush(len(r.secs), end, false)

	if r.raw != nil {
		res.Body, res.Headers = nil, nil
		if err := r.raw.Encode(res); err != nil {
			r.errs = append(r.errs, fmt.Errorf("loadgen: raw output: %w", err))
			r.raw = nil
		}
	}
}

// sec returns open second s, creating it.
func (r *recorder) sec(s int) *secRec {
	if r.secs[s] == nil {
		r.secs[s] = &secRec{hist: make([]*hdr.PackedHistogram, len(r.classes))}
	}
	return r.secs[s]
}

// ticks is the number of ticks the schedule sends due in (from, to].
func (r *recorder) ticks(from, to time.Duration) uint64 {
	if to <= from {
		return 0
	}
	a := min(r.sched.after(from), r.sched.max)
	b := min(r.sched.after(to), r.sched.max)
	return b - a
}

// secondGrace is how long after a second's requests must all have ended
// (Timeout after the second) it is written.
const secondGrace = time.Second

// flush writes, in order, the seconds before upTo that no request can still
// be added to at time now — every request sent in them ended or timed out —
// or, when final, all of them.
func (r *recorder) flush(upTo int, now time.Time, final bool) {
	for r.next < upTo {
		if !final && !now.After(r.winStart.Add(time.Duration(r.next+1)*time.Second+r.cfg.Timeout+secondGrace)) {
			return
		}
		r.writeSecond(r.next, r.secs[r.next])
		r.secs[r.next] = nil
		r.next++
	}
}

// writeSecond appends second s to the timeline and the interval logs.
func (r *recorder) writeSecond(s int, sec *secRec) {
	out := result.Second{T: s}
	r.scratch.Reset()
	if sec != nil {
		out.Requests, out.Errors = sec.requests, sec.errors
		out.ErrorKind = kindMap(sec.kinds[:])
		for _, h := range sec.hist {
			if h != nil {
				h.MergeInto(r.scratch)
			}
		}
		if r.scratch.TotalCount() > 0 {
			out.P50 = round3(float64(r.scratch.ValueAtQuantile(50)) / 1000)
			out.P99 = round3(float64(r.scratch.ValueAtQuantile(99)) / 1000)
		}
	}
	r.timeline = append(r.timeline, out)

	startMs := r.winStart.UnixMilli() + int64(s)*1000
	endMs := min(startMs+1000, r.winEnd.UnixMilli())
	for i, c := range r.classes {
		if c.hlog == nil || c.hlogErr != nil {
			continue
		}
		var h *hdr.PackedHistogram
		if sec != nil {
			h = sec.hist[i]
		}
		if h == nil {
			h = hdr.NewPacked(histMin, histMax, histSig)
		}
		h.SetStartTimeMs(startMs)
		h.SetEndTimeMs(endMs)
		if err := c.hlog.OutputIntervalPackedHistogram(h); err != nil {
			c.hlogErr = err
		}
	}
}

// hlogHeader writes the header of a class's interval log. Interval start times
// are relative to the log's BaseTime, the whole second the window started in
// (the log format writes base and start times in whole seconds), so base +
// interval start is the exact wall-clock time.
func (r *recorder) hlogHeader(c *classRec) {
	if c.hlog == nil {
		return
	}
	startMs := r.winStart.UnixMilli()
	baseMs := startMs - startMs%1000
	c.hlog.SetBaseTime(baseMs)
	for _, err := range []error{
		c.hlog.OutputLogFormatVersion(),
		c.hlog.OutputComment(fmt.Sprintf("[concbench loadgen: cell %s, class %s, %g req/s offered; response time from intended send, in microseconds; Interval_Max in seconds]",
			r.cfg.CellID, fileSafe(c.name), r.cfg.Rate)),
		c.hlog.OutputStartTime(startMs),
		c.hlog.OutputBaseTime(baseMs),
		c.hlog.OutputLegend(),
	} {
		if err != nil && c.hlogErr == nil {
			c.hlogErr = err
		}
	}
}

// kindMap returns the non-zero error counts by kind name, or nil.
func kindMap(k []int64) map[string]int64 {
	var m map[string]int64
	for i, n := range k {
		if n != 0 {
			if m == nil {
				m = make(map[string]int64)
			}
			m[kinds[i]] = n
		}
	}
	return m
}

// progress reports the attack's state to Config.Progress.
func (r *recorder) progress() {
	now := time.Now()
	p := Progress{Requests: r.requests}
	if r.haveBegan {
		p.Elapsed = now.Sub(r.began)
		p.Warmup = p.Elapsed <= r.w
	}
	for _, c := range r.classes {
		p.Errors += c.requests - c.ok
	}
	if dt := now.Sub(r.lastProgress).Seconds(); dt > 0 {
		p.AchievedRPS = float64(r.answersAll-r.lastAnswers) / dt
	}
	r.lastProgress, r.lastAnswers = now, r.answersAll
	if r.all.TotalCount() > 0 {
		p.P99 = time.Duration(r.all.ValueAtQuantile(99)) * time.Microsecond
	}
	p.InFlight, _, _ = r.fl.stats()
	r.cfg.Progress(p)
}

// summary summarizes a histogram of microseconds in milliseconds.
func summary(h *hdr.Histogram) result.Latency {
	n := h.TotalCount()
	if n == 0 {
		return result.Latency{}
	}
	q := func(p float64) float64 { return round3(float64(h.ValueAtQuantile(p)) / 1000) }
	return result.Latency{
		Count:  n,
		Mean:   round3(h.Mean() / 1000),
		P50:    q(50),
		P90:    q(90),
		P99:    q(99),
		P999:   q(99.9),
		P9999:  q(99.99),
		Max:    round3(float64(h.Max()) / 1000),
		StdDev: round3(h.StdDev() / 1000),
	}
}

// result closes the books once consume returned.
func (r *recorder) result() (*Result, error) {
	r.hmu.Lock()
	for _, t := range r.timers {
		t.Stop()
	}
	from, to, haveFrom, haveTo := r.hFrom, r.hTo, r.haveFrom, r.haveTo
	r.hmu.Unlock()
	if !r.haveBegan {
		r.learnStart()
	}
	cfg := r.cfg
	out := &Result{
		OfferedRPS:     cfg.Rate,
		MaxConnections: cfg.MaxConnections,
		MaxWorkers:     cfg.MaxWorkers,
		Transport:      cfg.Transport,
		StoppedBy:      r.sched.stopReason(),
	}
	if out.StoppedBy == "" { // vegeta's own bound (Warmup+Duration+stopSlack) stopped a late generator
		out.StoppedBy = "duration"
	}

	// The measured window ends early when sending stopped early; answers are
	// counted up to the same edge (see recorder.answers).
	endOff := r.w + r.d
	answers := r.answers
	if out.StoppedBy == "max_requests" {
		endOff = r.maxRequestsEnd()
		answers = r.answersToMax
	}
	if !r.cancelled.IsZero() {
		out.StoppedBy = "context"
		if r.haveBegan {
			endOff = min(endOff, r.cancelled.Sub(r.began))
		}
	}
	measured := max(endOff-r.w, 0)
	if r.haveBegan {
		out.Window.Start = r.winStart
		out.Window.End = r.began.Add(r.w + measured)
		r.fl.setWindow(out.Window.Start, out.Window.End)
		r.hiccups.setWindow(out.Window.Start, out.Window.End)
	}

	// Seconds: every second of the (possibly shortened) window, and any later
	// one that holds requests.
	n := int((measured + time.Second - 1) / time.Second)
	for s := len(r.secs) - 1; s >= n; s-- {
		if r.secs[s] != nil && r.secs[s].requests > 0 {
			n = s + 1
			break
		}
	}
	n = max(n, r.next)
	r.flush(n, time.Time{}, true)
	out.Timeline = r.timeline

	for i, c := range r.classes {
		mc := cfg.Mix[i]
		rc := result.Class{
			Name:         mc.Name,
			Target:       mc.Target,
			Weight:       mc.Weight,
			Heavy:        mc.Heavy,
			Requests:     c.requests,
			OK:           c.ok,
			Errors:       c.requests - c.ok,
			ErrorsByKind: kindMap(c.kinds[:]),
			Response:     summary(c.resp),
			Service:      summary(c.svc),
		}
		out.Classes = append(out.Classes, rc)
		out.Requests += rc.Requests
		out.OK += rc.OK
		out.Errors += rc.Errors
	}
	out.DispatchLag = summary(r.lag)
	var due int64
	if measured > 0 {
		out.SentRPS = round3(float64(out.Requests) / measured.Seconds())
		out.AchievedRPS = round3(float64(answers) / measured.Seconds())
		due = int64(r.ticks(r.w, r.w+measured))
		sentByEnd := r.gen.WarmupRequests + out.Requests + r.unmatched
		out.Missed = max(int64(r.ticks(0, r.w+measured))-sentByEnd, 0)
	}
	_, peak, full := r.fl.stats()
	out.PeakInFlight = peak
	if measured > 0 {
		out.PoolFull = min(round3(full.Seconds()/measured.Seconds()), 1)
	}

	out.Generator = r.gen
	if haveFrom {
		if !haveTo {
			to = takeHealth()
		}
		generatorHealth(&out.Generator, from, to)
	}
	if h := r.hiccups.finish(); h.TotalCount() > 0 {
		out.Generator.HiccupP99 = time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
		out.Generator.HiccupMax = time.Duration(h.Max()) * time.Microsecond
	}

	out.Validity = judge(out.verdictInput(measured, due, answers, cfg.CeilingRPS))

	errs := r.errs
	if r.unmatched > 0 {
		errs = append(errs, fmt.Errorf("loadgen: %d results had a URL outside the mix", r.unmatched))
	}
	if r.rawBuf != nil && r.raw != nil {
		if err := r.rawBuf.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("loadgen: raw output: %w", err))
		}
	}
	if cfg.OutDir != "" {
		out.Files = make(map[string]string, 3*len(r.classes))
		for _, c := range r.classes {
			if err := r.writeHgrm(c.file+".hgrm", c.resp); err != nil {
				errs = append(errs, err)
			} else {
				out.Files["hgrm:"+c.name] = c.file + ".hgrm"
			}
			if err := r.writeHgrm(c.file+".service.hgrm", c.svc); err != nil {
				errs = append(errs, err)
			} else {
				out.Files["hgrm-service:"+c.name] = c.file + ".service.hgrm"
			}
			if err := c.closeHlog(); err != nil {
				errs = append(errs, fmt.Errorf("loadgen: %s.hlog: %w", c.file, err))
			} else {
				out.Files["hlog:"+c.name] = c.file + ".hlog"
			}
		}
	}
	return out, errors.Join(errs...)
}

// writeHgrm writes h's percentile distribution in milliseconds, in the
// standard .hgrm text format (HdrHistogram's PercentilesPrint, 5 ticks per
// half distance, as wrk2 and the HdrHistogram plotter use).
func (r *recorder) writeHgrm(name string, h *hdr.Histogram) error {
	var b strings.Builder
	if _, err := h.PercentilesPrint(&b, 5, 1000); err != nil {
		return fmt.Errorf("loadgen: %s: %w", name, err)
	}
	if err := result.WriteFileAtomic(filepath.Join(r.cfg.OutDir, name), []byte(b.String())); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	return nil
}

// closeHlog flushes and closes the class's interval log.
func (c *classRec) closeHlog() error {
	if c.hlogFile == nil {
		return nil
	}
	err := c.hlogErr
	if ferr := c.hlogBuf.Flush(); err == nil {
		err = ferr
	}
	if cerr := c.hlogFile.Close(); err == nil {
		err = cerr
	}
	c.hlogFile = nil
	return err
}

// closeFiles closes the interval logs after a failed start.
func (r *recorder) closeFiles() {
	for _, c := range r.classes {
		if c.hlogFile != nil {
			_ = c.hlogFile.Close()
			c.hlogFile = nil
		}
	}
}
