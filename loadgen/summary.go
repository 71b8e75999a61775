package loadgen

import (
	"errors"
	"fmt"
	"maps"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/result"
)

// summary summarizes a histogram of microseconds in milliseconds.
func summary(h *hdr.Histogram) result.Latency {
	n := h.TotalCount()
	if n == 0 {
		return result.Latency{}
	}
	q := func(p float64) float64 { return round3(float64(h.ValueAtQuantile(p)) / 1000) }
	enc, _ := h.Encode(hdr.V2CompressedEncodingCookieBase) // only a compressor error, never seen with in-memory buffers
	return result.Latency{
		HDR:    string(enc),
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

// result closes the books once consume returned: it assembles the Result
// from the statistics, judges it (validity.go) and closes the sinks.
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
		Pacing:         cfg.Pacing,
		StoppedBy:      r.sched.stopReason(),
	}
	if out.StoppedBy == "" { // vegeta's own bound (Warmup+Duration+Drain) stopped a late generator
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
	if r.stop.IsZero() {
		r.stop = time.Now()
	}
	out.Stopped = r.stop
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
	// The window's ticks due by its (possibly shortened) end whose result did
	// not arrive are censored at the stop.
	var censored, neverSent int64
	if r.haveBegan {
		censored, neverSent = r.censor(r.stop, min(r.last, r.sched.after(r.w+measured)), r.fl.handedOut())
	}
	r.flush(n, time.Time{}, true)
	out.Timeline = r.timeline

	for i, c := range r.classes {
		mc := cfg.Mix[i]
		rc := result.Class{
			Name:         mc.Name,
			Target:       mc.Target,
			Weight:       mc.Weight,
			Heavy:        mc.Heavy,
			Bounded:      mc.Bounded,
			Requests:     c.requests,
			OK:           c.ok,
			Errors:       c.requests - c.ok,
			ErrorsByKind: kindMap(c.kinds[:]),
			Response:     summary(c.resp),
			Service:      summary(c.svc),
		}
		if c.censored > 0 {
			rc.Response.Censored = c.censored
			// A percentile in a lower bucket than censoredMin's reads that
			// bucket's highest value, below censoredMin; one in its bucket
			// reads at least censoredMin: the comparison in LowerBound holds.
			rc.Response.CensoredMin = float64(c.censoredMin) / 1000
		}
		if c.fail.TotalCount() > 0 {
			f := summary(c.fail)
			rc.Failed = &f
		}
		out.Classes = append(out.Classes, rc)
		out.Requests += rc.Requests
		out.OK += rc.OK
		out.Errors += rc.Errors
	}
	out.DispatchLag = summary(r.lag)
	out.FreeLag = summary(r.freeLag)
	out.Censored, out.NeverSent, out.Drained, out.Clamped = censored, neverSent, r.drained, r.clamped
	var due int64
	if measured > 0 {
		sent := out.Requests + censored - neverSent
		out.SentRPS = round3(float64(sent) / measured.Seconds())
		out.AchievedRPS = round3(float64(answers) / measured.Seconds())
		due = int64(r.ticks(r.w, r.w+measured))
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

	var errs []error
	if r.unmatched > 0 {
		errs = append(errs, fmt.Errorf("loadgen: %d results had a URL outside the mix", r.unmatched))
	}
	for _, s := range r.sinks {
		files, err := s.close(r.classes)
		if err != nil {
			errs = append(errs, err)
		}
		if files != nil && out.Files == nil {
			out.Files = make(map[string]string, len(files))
		}
		maps.Copy(out.Files, files)
	}
	return out, errors.Join(errs...)
}
