package loadgen

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A sink is told what the recorder measures, as it goes. The recorder keeps
// the statistics; what is written or shown on the way — the histogram files
// (histFiles), vegeta's raw output (rawSink), the progress report
// (progressSink) — is a sink given to it, as vegeta keeps its Reporters and
// Encoders apart from its Attacker. Attack builds the sinks from Config.
//
// The recorder calls a sink from its one goroutine, in this order: begin once
// the attack's window is known (before the first result); record for every
// result; second for every second of the window, in order; and close once,
// after the last. A sink that also implements ticker is ticked about once a
// second while the attack runs. Sinks must return quickly: results wait.
type sink interface {
	begin(w window)
	record(rec *record)
	// second is second s of the window, (from, to] in wall-clock time (the
	// last may be shorter); hists[i] holds the response times of class i's
	// requests sent in it, nil when there were none. The histograms belong to
	// the recorder: read them before returning.
	second(s int, from, to time.Time, hists []*hdr.PackedHistogram)
	// close ends the sink once the attack is over. classes hold the
	// attack's statistics, read-only. files maps a kind to a file written,
	// as Result.Files does.
	close(classes []*classRec) (files map[string]string, err error)
}

// ticker is a sink that wants a tick about once a second.
type ticker interface {
	tick()
}

// nopSink implements every method of sink by doing nothing: sinks embed it
// and override what they need.
type nopSink struct{}

func (nopSink) begin(window)                                             {}
func (nopSink) record(*record)                                           {}
func (nopSink) second(int, time.Time, time.Time, []*hdr.PackedHistogram) {}
func (nopSink) close([]*classRec) (map[string]string, error)             { return nil, nil }

// window is an attack's measured window (start, end] and its start, began.
type window struct {
	began, start, end time.Time
}

// record is one result as the recorder saw it.
type record struct {
	res *vegeta.Result
	// class is the index in the mix of a measured result (sent inside the
	// window, to a URL of the mix), -1 for any other.
	class int
	// resp is a measured result's response time from its intended send, in
	// histogram units (µs, clamped); intended is that intended send time.
	resp     int64
	intended time.Time
}

// measured reports whether the result was sent inside the window.
func (r *record) measured() bool { return r.class >= 0 }

// failed reports whether the request failed (any error, status ≥ 400 included).
func (r *record) failed() bool { return r.res.Error != "" }

// answered reports whether the request got an answer with an HTTP status.
func (r *record) answered() bool { return r.res.Code != 0 }
