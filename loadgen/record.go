package loadgen

import (
	"context"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/result"
)

// Histogram geometry: microseconds, 1 µs .. 1 h, 3 significant digits. An
// hour is far above any Timeout a plan sets, so that only a censored request
// of a very long drain, or a clock jump, can reach it; such values are
// recorded as 1 h and counted (Result.Clamped), never dropped silently.
const (
	histMin = 1
	histMax = 3_600_000_000
	histSig = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histSig) }

// micros converts d to histogram units, clamped to the histogram's range;
// clamped reports a value above the range.
func micros(d time.Duration) (v int64, clamped bool) {
	v = d.Microseconds()
	switch {
	case v < histMin:
		return histMin, false
	case v > histMax:
		return histMax, true
	}
	return v, false
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
	freeLag *hdr.Histogram // ... of those that found a connection free (see flight.overlapsFull)
	scratch *hdr.Histogram // merges a second's classes for the timeline

	// The window's ticks are [first, last): those due in (w, w+d] (see
	// schedule.after), at most MaxRequests. got marks, bit seq−first, the
	// ones whose result arrived; the others are censored at the stop.
	first, last uint64
	got         []uint64
	// coveredAt is when every tick of second next was seen handed to the
	// HTTP client (flight.handedOut); zero until then.
	coveredAt time.Time
	// stopSending ends the sending (vegeta's Attacker.Stop); the recorder
	// calls it Drain after the window's end.
	stopSending func()

	// The window is (w, w+d] after began, in offsets of the schedule.
	w, d      time.Duration
	began     time.Time
	haveBegan bool
	winStart  time.Time
	winEnd    time.Time
	cancelled time.Time // when ctx was cancelled; zero if it was not
	stop      time.Time // when consume returned: the attack's stop
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
	unmatched                       int64
	// drained counts measured requests sent after the window's end;
	// clamped values above histMax.
	drained, clamped int64
	gen              Generator

	hiccups *hiccupMeter

	hmu      sync.Mutex // guards the health snapshots and timers
	hFrom    healthSnap
	hTo      healthSnap
	haveFrom bool
	haveTo   bool
	timers   []*time.Timer
}

// classRec is one class of the mix: its counts and histograms. resp and svc
// hold the successful requests (resp also the censored ones), fail the
// response times of the failed ones: a fast refusal must not pull the
// percentiles of the successes down.
type classRec struct {
	requests        int64
	ok              int64
	kinds           [nKinds]int64
	resp, svc, fail *hdr.Histogram
	censored        int64
	censoredMin     int64 // µs, the least censored value; valid when censored > 0
}

// secRec is one open second of the window. Its histograms are packed (they
// grow with the buckets used), so the seconds still waiting for slow answers
// cost little.
type secRec struct {
	requests, errors, censored int64
	kinds                      [nKinds]int64
	hist                       []*hdr.PackedHistogram // per class, response time of successes and censored
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
		freeLag: newHist(),
		scratch: newHist(),
		w:       cfg.Warmup,
		d:       cfg.Duration,
		secs:    make([]*secRec, int((cfg.Duration+time.Second-1)/time.Second)),
	}
	for i, u := range urls {
		r.byURL[u] = i
		r.classes = append(r.classes, &classRec{resp: newHist(), svc: newHist(), fail: newHist()})
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
	if r.stopSending != nil {
		// vegeta's own bound (Attack's du) is checked only between ticks,
		// and its pacing loop may block handing a tick to a busy worker:
		// Stop ends that wait too.
		r.timers = append(r.timers, time.AfterFunc(time.Until(end.Add(r.cfg.Drain)), r.stopSending))
	}
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
	r.first = min(r.sched.after(r.w), r.sched.max)
	r.last = min(r.sched.after(r.w+r.d), r.sched.max)
	r.got = make([]uint64, (r.last-r.first+63)/64)
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
	defer func() { r.stop = time.Now() }()
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

// add folds one result in. A request belongs to the measured window when its
// intended send time lies inside it, and to the second of the timeline that
// time falls in, however late it left: an over-capacity cell is measured by
// the requests due in its window, not by the warmup's backlog that left
// during it. Its response time counts from its intended send time.
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
	case res.Seq < r.first:
		r.gen.WarmupRequests++
		return
	case res.Seq >= r.last: // cannot happen: the schedule sends no later tick
		r.unmatched++
		return
	case !r.cancelled.IsZero() && intended.After(r.cancelled):
		// Due after the cancellation, which ends the window: vegeta may
		// still hand out a tick or two before it sees its stop.
		return
	}
	ci, ok := r.byURL[res.URL]
	if !ok {
		r.unmatched++
		return
	}
	i := res.Seq - r.first
	r.got[i/64] |= 1 << (i % 64)
	if res.Timestamp.After(r.winEnd) {
		r.drained++
	}
	lag := res.Timestamp.Sub(intended)
	if lag < 0 { // only the nanoseconds between vegeta's start and ours
		lag = 0
	}
	resp := r.micros(end.Sub(intended))

	r.requests++
	c := r.classes[ci]
	c.requests++
	if kind < 0 {
		c.ok++
		_ = c.resp.RecordValue(resp) // values are clamped to the range: no error
		_ = c.svc.RecordValue(r.micros(res.Latency))
	} else {
		c.kinds[kind]++
		_ = c.fail.RecordValue(resp)
	}
	_ = r.lag.RecordValue(r.micros(lag))
	if !r.fl.overlapsFull(intended, res.Timestamp) {
		_ = r.freeLag.RecordValue(r.micros(lag))
	}
	rec.class, rec.resp, rec.intended = ci, resp, intended

	sec := r.sec(r.secondOf(intended))
	sec.requests++
	if kind >= 0 {
		sec.errors++
		sec.kinds[kind]++
	} else {
		sec.record(ci, resp)
	}
	r.flush(len(r.secs), time.Now(), false)
}

// micros converts d to histogram units, counting the values clamped.
func (r *recorder) micros(d time.Duration) int64 {
	v, clamped := micros(d)
	if clamped {
		r.clamped++
	}
	return v
}

// secondOf returns the open second of the timeline a request intended at t
// belongs to (t in the window). A second already written cannot get more
// requests (see flush); should one come, it goes to the first open second.
func (r *recorder) secondOf(t time.Time) int {
	s := int((t.Sub(r.winStart) - 1) / time.Second)
	if s < r.next {
		s = r.next
	}
	return min(max(s, 0), len(r.secs)-1)
}

// record adds response time v (µs) of class ci to the second.
func (sec *secRec) record(ci int, v int64) {
	if sec.hist[ci] == nil {
		sec.hist[ci] = hdr.NewPacked(histMin, histMax, histSig)
	}
	_ = sec.hist[ci].RecordValue(v)
}

// censor records the window's ticks whose result did not arrive by stop, up
// to tick end (exclusive): each is a lower bound, stop − intended, of its
// response time. Their classes follow the mix sequence, which the targeter
// hands out in the order of the ticks (see mixTargeter: exact but for ticks
// picked up at the same instant). handed is the number of requests handed to
// the HTTP client: ticks from there on were never sent. It returns how many
// were censored and how many of them were never sent.
func (r *recorder) censor(stop time.Time, end, handed uint64) (censored, neverSent int64) {
	if end <= r.first || len(r.secs) == 0 {
		return 0, 0
	}
	weights := make([]int, len(r.cfg.Mix))
	for i, m := range r.cfg.Mix {
		weights[i] = m.Weight
	}
	seq, err := newMixSeq(weights, r.cfg.Seed)
	if err != nil { // the targeter was built from the same weights
		return 0, 0
	}
	for range r.first {
		seq.next()
	}
	for t := r.first; t < end; t++ {
		ci := seq.next()
		i := t - r.first
		if r.got[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		intended := r.began.Add(r.sched.at(t))
		v := r.micros(stop.Sub(intended))
		c := r.classes[ci]
		if c.censored == 0 || v < c.censoredMin {
			c.censoredMin = v
		}
		c.censored++
		_ = c.resp.RecordValue(v)
		censored++
		if t >= handed {
			neverSent++
		}
		if r.next < len(r.secs) {
			sec := r.sec(r.secondOf(intended))
			sec.censored++
			sec.record(ci, v)
		}
	}
	return censored, neverSent
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
// (Timeout after the last of them was handed to the HTTP client) it is
// written.
const secondGrace = time.Second

// flush writes, in order, the seconds before upTo that no request can still
// be added to at time now — every request due in them was sent, and ended or
// timed out — or, when final, all of them. A second's requests may leave
// long after it when the cell runs behind: it waits for the last of them to
// be handed to the HTTP client, then for Timeout.
func (r *recorder) flush(upTo int, now time.Time, final bool) {
	for r.next < upTo {
		if !final {
			if !now.After(r.winStart.Add(time.Duration(r.next+1)*time.Second + r.cfg.Timeout + secondGrace)) {
				return
			}
			if r.coveredAt.IsZero() {
				lastTick := min(r.sched.after(r.w+time.Duration(r.next+1)*time.Second), r.last)
				if r.fl.handedOut() < lastTick {
					return
				}
				r.coveredAt = time.Now()
			}
			if !now.After(r.coveredAt.Add(r.cfg.Timeout + secondGrace)) {
				return
			}
		}
		r.writeSecond(r.next, r.secs[r.next])
		r.secs[r.next] = nil
		r.next++
		r.coveredAt = time.Time{}
	}
}

// writeSecond appends second s to the timeline and tells the sinks.
func (r *recorder) writeSecond(s int, sec *secRec) {
	out := result.Second{T: s}
	r.scratch.Reset()
	var hists []*hdr.PackedHistogram
	if sec != nil {
		hists = sec.hist
		out.Requests, out.Errors, out.Censored = sec.requests, sec.errors, sec.censored
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
