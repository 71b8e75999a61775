package loadgen

import (
	"fmt"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/plan"
)

// callLog is a sink that writes down the calls it gets.
type callLog struct {
	calls []string
	w     window
}

func (l *callLog) begin(w window) {
	l.w = w
	l.calls = append(l.calls, "begin")
}

func (l *callLog) record(rec *record) {
	l.calls = append(l.calls, fmt.Sprintf("record %d class %d", rec.res.Seq, rec.class))
}

func (l *callLog) second(s int, from, to time.Time, hists []*hdr.PackedHistogram) {
	n := int64(0)
	for _, h := range hists {
		if h != nil {
			n += h.TotalCount()
		}
	}
	l.calls = append(l.calls, fmt.Sprintf("second %d +%s..+%s %d", s, from.Sub(l.w.start), to.Sub(l.w.start), n))
}

func (l *callLog) close(classes []*classRec) (map[string]string, error) {
	l.calls = append(l.calls, fmt.Sprintf("close %d classes", len(classes)))
	return map[string]string{"log": "calls"}, nil
}

// TestRecorderSinks: the recorder tells its sinks the window first, then
// every result (a measured one with its class), every second of the window in
// order, and closes them last, handing their files on to the Result. The
// results are made up, sent at their intended times: 2 req/s, 1 s of warmup,
// a window of 1.5 s.
func TestRecorderSinks(t *testing.T) {
	cfg := Config{
		BaseURL: "http://127.0.0.1:1", Rate: 2, Warmup: time.Second, Duration: 1500 * time.Millisecond,
		Mix: []plan.Class{{Name: "a", Target: "/a", Weight: 1}, {Name: "b", Target: "/b", Weight: 1}},
	}
	if _, err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	urls, err := classURLs(cfg.BaseURL, cfg.Mix)
	if err != nil {
		t.Fatal(err)
	}
	log := &callLog{}
	fl := newFlight(cfg.MaxConnections)
	rec := newRecorder(&cfg, urls, fl, log)
	rec.sched = newSchedule(cfg.Rate, 0, cfg.Warmup+cfg.Duration, uint64(cfg.MaxRequests), nil)
	// An attack that began a minute ago and is long over.
	began := time.Now().Add(-time.Minute)
	rec.sched.began, rec.sched.started, rec.sched.stopped = began, true, "duration"
	for seq := range uint64(5) { // due at 0.25, 0.75 (warmup), 1.25, 1.75, 2.25 s
		rec.add(&vegeta.Result{Seq: seq, Timestamp: began.Add(rec.sched.at(seq)), Latency: time.Millisecond, URL: urls[seq%2], Code: 200})
	}
	res, err := rec.result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"begin",
		"record 0 class -1", "record 1 class -1",
		"record 2 class 0", "record 3 class 1", "record 4 class 0",
		"second 0 +0s..+1s 2", "second 1 +1s..+1.5s 1",
		"close 2 classes",
	}
	if got := strings.Join(log.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("sink calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if res.Requests != 3 || res.Files["log"] != "calls" {
		t.Errorf("result: %d requests, files %v; want 3 and the sink's file", res.Requests, res.Files)
	}
}

// TestOverCapacityCensored is TestOverCapacity's setup played without a
// server or a clock: 100 req/s, a warmup of 250 ms, a window of 1.5 s, two
// connections, a server that takes 200 ms. Requests leave in order as soon as
// a connection is free, up to the end of the drain (window end + 1 s), so the
// 25 warmup requests take the first 2.5 s and only a few of the window's
// leave before the stop. The window must be measured by the requests due in
// it: the warmup's backlog is not, the few window requests sent are, and the
// rest are censored with lower bounds that make the tail "≥".
func TestOverCapacityCensored(t *testing.T) {
	cfg := Config{
		BaseURL: "http://127.0.0.1:1", Rate: 100, Warmup: 250 * time.Millisecond, Duration: 1500 * time.Millisecond,
		MaxConnections: 2, Mix: []plan.Class{{Name: "slow", Target: "/slow", Weight: 1}},
	}
	if _, err := cfg.normalize(); err != nil {
		t.Fatal(err)
	}
	urls, err := classURLs(cfg.BaseURL, cfg.Mix)
	if err != nil {
		t.Fatal(err)
	}
	fl := newFlight(cfg.MaxConnections)
	rec := newRecorder(&cfg, urls, fl)
	rec.sched = newSchedule(cfg.Rate, 0, cfg.Warmup+cfg.Duration, uint64(cfg.MaxRequests), nil)
	began := time.Now().Add(-time.Minute)
	rec.sched.began, rec.sched.started, rec.sched.stopped = began, true, "duration"

	const service = 200 * time.Millisecond
	sendBy := cfg.Warmup + cfg.Duration + cfg.Drain
	free := []time.Duration{0, 0} // when each connection is free, since began
	var last time.Duration
	var sent uint64
	for seq := uint64(0); ; seq++ {
		due := rec.sched.at(seq)
		if due > cfg.Warmup+cfg.Duration {
			break
		}
		c := 0
		if free[1] < free[0] {
			c = 1
		}
		at := max(due, free[c])
		if at > sendBy {
			break
		}
		free[c] = at + service
		last = max(last, free[c])
		sent++
		rec.add(&vegeta.Result{Seq: seq, Timestamp: began.Add(at), Latency: service, URL: urls[0], Code: 200})
	}
	fl.handed = sent
	rec.stop = began.Add(last)
	res, err := rec.result()
	if err != nil {
		t.Fatal(err)
	}
	c := res.Classes[0]
	check := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d; want %d", what, got, want)
		}
	}
	// Two requests leave every 200 ms from 5 and 15 ms: 28 by 2.75 s, the
	// 25 of the warmup, then ticks 25 to 27 (due at 255–275 ms, sent at
	// 2.605 s and later).
	check("sent", int64(sent), 28)
	check("warmup requests", res.Generator.WarmupRequests, 25)
	check("measured requests", res.Requests, 3)
	check("censored", res.Censored, 147)
	check("never sent", res.NeverSent, 147)
	check("class censored", c.Response.Censored, 147)
	check("response count", c.Response.Count, 150)
	check("drained", res.Drained, 3)
	// The last window tick was due at 1.745 s; the stop, the last answer,
	// came at 2.815 s.
	if c.Response.CensoredMin != 1070 {
		t.Errorf("least censored %.3f ms; want 1070 (2.815 s − 1.745 s)", c.Response.CensoredMin)
	}
	if !c.Response.LowerBound(c.Response.P99) || !c.Response.LowerBound(c.Response.P50) {
		t.Errorf("p50 %.1f, p99 %.1f ms with %d of 150 censored from %.1f ms; want both lower bounds",
			c.Response.P50, c.Response.P99, c.Response.Censored, c.Response.CensoredMin)
	}
	if c.Service.Count != 3 || c.Service.Max > 201 {
		t.Errorf("service %+v; want 3 requests of 200 ms", c.Service)
	}
	var tl int64
	for _, s := range res.Timeline {
		tl += s.Censored
	}
	if tl != 147 || res.Timeline[0].P99 < 1070 {
		t.Errorf("timeline: %d censored, first second's p99 %.1f ms; want 147, ≥ 1070", tl, res.Timeline[0].P99)
	}
}
