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
