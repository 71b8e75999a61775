package loadgen

import (
	"context"
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
// histograms and counters: the attack's statistics. What is written or shown
// on the way is left to its sinks (see sink). Every method but started runs
// on the one goroutine that reads the results channel (consume).
type recorder struct {
	cfg   *Config
	sched *schedule
	fl    *flight
	byURL map[string]int
	sinks []sink

	classes []*classRec
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

	hiccups *hiccupMeter

	hmu      sync.Mutex // guards the health snapshots and timers
	hFrom    healthSnap
	hTo      healthSnap
	haveFrom bool
	haveTo   bool
	timers   []*time.Timer
}

// classRec is one class of the mix: its counts and histograms.
type classRec struct {
	requests  int64
	ok        int64
	kinds     [nKinds]int64
	resp, svc *hdr.Histogram
}

// secRec is one open second of the window. Its histograms are packed (they
// grow with the buckets used), so the seconds still waiting for slow answers
// cost little.
type secRec struct {
	requests, errors int64
	kinds            [nKinds]int64
	hist             []*hdr.PackedHistogram // per class, response time
}

// newRecorder returns a recorder of the attack cfg of the classes at urls (in
// the order of cfg.Mix), telling sinks what it measures.
func newRecorder(cfg *Config, urls []string, fl *flight, sinks ...sink) *recorder {
	r := &recorder{
		cfg:     cfg,
		fl:      fl,
		byURL:   make(map[string]int, len(urls)),
		sinks:   sinks,
		lag:     newHist(),
		scratch: newHist(),
		w:       cfg.Warmup,
		d:       cfg.Duration,
		secs:    make([]*secRec, int((cfg.Duration+time.Second-1)/time.Second)),
	}
	for i, u := range urls {
		r.byURL[u] = i
		r.classes = append(r.classes, &classRec{resp: newHist(), svc: newHist()})
	}
	r.hiccups = startHiccups()
	return r
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
	w := window{began: began, start: r.winStart, end: r.winEnd}
	for _, s := range r.sinks {
		s.begin(w)
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
	var tickers []ticker
	for _, s := range r.sinks {
		if t, ok := s.(ticker); ok {
			tickers = append(tickers, t)
		}
	}
	var tick <-chan time.Time
	if len(tickers) > 0 {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
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
			for _, t := range tickers {
				t.tick()
			}
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
		// Every answer received before the cancellation ended before it
		// (end ≤ now when it is read), so none counted earlier lies after it.
		if r.inWindow(end) && (r.cancelled.IsZero() || !end.After(r.cancelled)) {
			r.answers++
			if !end.After(r.maxEnd) {
				r.answersToMax++
			}
		}
	}
	rec := record{res: res, class: -1}
	defer r.tell(&rec)
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
	_ = r.lag.RecordValue(micros(lag))
	rec.class, rec.resp, rec.intended = ci, resp, intended

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
}

// tell passes a result on to the sinks.
func (r *recorder) tell(rec *record) {
	for _, s := range r.sinks {
		s.record(rec)
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

// writeSecond appends second s to the timeline and tells the sinks.
func (r *recorder) writeSecond(s int, sec *secRec) {
	out := result.Second{T: s}
	r.scratch.Reset()
	var hists []*hdr.PackedHistogram
	if sec != nil {
		hists = sec.hist
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

	from := r.winStart.Add(time.Duration(s) * time.Second)
	to := from.Add(time.Second)
	if to.After(r.winEnd) {
		to = r.winEnd
	}
	for _, sk := range r.sinks {
		sk.second(s, from, to, hists)
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
