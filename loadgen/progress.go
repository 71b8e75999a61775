package loadgen

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// progressSink reports a running attack's state to Config.Progress on every
// tick.
type progressSink struct {
	nopSink
	report func(Progress)
	fl     *flight
	w      window
	begun  bool

	requests, errors int64          // measured requests so far
	answers          int64          // answers received, warmup included
	resp             *hdr.Histogram // response time of every measured request
	last             time.Time      // the previous report
	lastAnswers      int64          // answers at the previous report
}

var (
	_ sink   = (*progressSink)(nil)
	_ ticker = (*progressSink)(nil)
)

func newProgressSink(report func(Progress), fl *flight) *progressSink {
	return &progressSink{report: report, fl: fl, resp: newHist(), last: time.Now()}
}

func (p *progressSink) begin(w window) { p.w, p.begun = w, true }

func (p *progressSink) record(rec *record) {
	if rec.answered() {
		p.answers++
	}
	if !rec.measured() {
		return
	}
	p.requests++
	if rec.failed() {
		p.errors++
	}
	_ = p.resp.RecordValue(rec.resp) // values are clamped to the range: no error
}

func (p *progressSink) tick() {
	now := time.Now()
	s := Progress{Requests: p.requests, Errors: p.errors}
	if p.begun {
		s.Elapsed = now.Sub(p.w.began)
		s.Warmup = !now.After(p.w.start)
	}
	if dt := now.Sub(p.last).Seconds(); dt > 0 {
		s.AchievedRPS = float64(p.answers-p.lastAnswers) / dt
	}
	p.last, p.lastAnswers = now, p.answers
	if p.resp.TotalCount() > 0 {
		s.P99 = time.Duration(p.resp.ValueAtQuantile(99)) * time.Microsecond
	}
	s.InFlight, _, _ = p.fl.stats()
	p.report(s)
}
