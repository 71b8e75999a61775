package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

var transports = []string{TransportFastHTTP, TransportNetHTTP}

// testServer starts a plain net/http server on 127.0.0.1:0 with /plain and
// /slow?ms=N, closed (waiting for in-flight requests) when the test ends.
func testServer(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(n) * time.Millisecond)
		_, _ = io.WriteString(w, "slept\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// attack runs cfg, again up to twice more while the generator finds itself
// generator-bound: on a shared machine other processes can stall it, which it
// rightly reports, and these tests want a clean run. reset, when set, runs
// before each attempt.
//
// When every attempt was generator-bound while the hypervisor stole a
// noticeable share of the machine's CPUs (StealNoticeable), the test is
// skipped, not failed: the generator's verdict was right, and the host, not
// the code, decided it (a fresh clone's make test once saw 15–28 % stolen
// over all three attempts). An attempt that failed on a quiet host still
// fails the test.
func attack(t *testing.T, cfg Config, reset func()) *Result {
	t.Helper()
	const attempts = 3
	stolen := 0
	for i := 1; ; i++ {
		if reset != nil {
			reset()
		}
		res, err := Attack(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Attack: %v", err)
		}
		if res.Validity.Valid {
			return res
		}
		if res.Validity.Transient && res.Generator.StealShare >= StealNoticeable {
			stolen++
		}
		if i == attempts {
			if stolen == attempts {
				t.Skipf("all %d attempts were generator-bound while the host stole CPU (last: %.1f%%): %q", attempts, 100*res.Generator.StealShare, res.Validity.Reasons)
			}
			return res
		}
		t.Logf("attempt %d was generator-bound (busy machine?): %q", i, res.Validity.Reasons)
	}
}

// checkCounts checks that a result's counts add up.
func checkCounts(t *testing.T, res *Result) {
	t.Helper()
	var req, ok, errs int64
	for _, c := range res.Classes {
		req += c.Requests
		ok += c.OK
		errs += c.Errors
		var byKind int64
		for _, n := range c.ErrorsByKind {
			byKind += n
		}
		if c.OK+c.Errors != c.Requests || byKind != c.Errors {
			t.Errorf("class %s: ok %d + errors %d (by kind %d) != requests %d", c.Name, c.OK, c.Errors, byKind, c.Requests)
		}
		var failed int64
		if c.Failed != nil {
			failed = c.Failed.Count
		}
		if c.Response.Count != c.OK+c.Response.Censored || c.Service.Count != c.OK || failed != c.Errors {
			t.Errorf("class %s: %d response (%d censored), %d service and %d failed times for %d ok, %d failed requests",
				c.Name, c.Response.Count, c.Response.Censored, c.Service.Count, failed, c.OK, c.Errors)
		}
	}
	if req != res.Requests || ok != res.OK || errs != res.Errors || res.OK+res.Errors != res.Requests {
		t.Errorf("classes add up to %d requests (%d ok, %d errors); result says %d (%d ok, %d errors)", req, ok, errs, res.Requests, res.OK, res.Errors)
	}
	var tl, tlErr, tlCens int64
	for i, s := range res.Timeline {
		if s.T != i {
			t.Errorf("timeline[%d].T = %d", i, s.T)
		}
		tl += s.Requests
		tlErr += s.Errors
		tlCens += s.Censored
	}
	if tl != res.Requests || tlErr != res.Errors || tlCens != res.Censored {
		t.Errorf("timeline adds up to %d requests, %d errors, %d censored; result says %d, %d, %d", tl, tlErr, tlCens, res.Requests, res.Errors, res.Censored)
	}
	if res.DispatchLag.Count != res.Requests {
		t.Errorf("dispatch lag of %d requests; want %d", res.DispatchLag.Count, res.Requests)
	}
}

func TestAttack(t *testing.T) {
	url := testServer(t)
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			dir := t.TempDir()
			var raw bytes.Buffer
			var progress []Progress
			cfg := Config{
				BaseURL: url,
				Mix: []plan.Class{
					{Name: "plain", Target: "/plain", Weight: 99},
					{Name: "heavy", Target: "/slow?ms=2", Weight: 1, Heavy: true},
				},
				Rate:      200,
				Warmup:    250 * time.Millisecond,
				Duration:  1500 * time.Millisecond,
				Seed:      1,
				Transport: tr,
				OutDir:    dir,
				CellID:    "cell-" + tr,
				RawOut:    &raw,
				Progress:  func(p Progress) { progress = append(progress, p) },
			}
			var start time.Time
			res := attack(t, cfg, func() {
				raw.Reset()
				progress = nil
				start = time.Now()
			})
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("a 1.75 s attack took %s", took)
			}
			checkCounts(t, res)
			if res.Requests != 300 || res.Censored != 0 {
				t.Errorf("requests %d, censored %d; want 300 (200/s × 1.5 s), 0", res.Requests, res.Censored)
			}
			if res.OK != res.Requests {
				t.Errorf("ok %d of %d: errors %+v", res.OK, res.Requests, res.Classes)
			}
			if h := res.Classes[1].Requests; h < 1 || h > 5 {
				t.Errorf("%d heavy requests of 300 in a 99:1 mix; want 3 ± 2", h)
			}
			if len(res.Timeline) != 2 {
				t.Errorf("timeline of %d seconds for a 1.5 s window; want 2", len(res.Timeline))
			}
			if !res.Validity.Valid || res.Validity.OverCapacity {
				t.Errorf("validity %+v; want valid, not over capacity", res.Validity)
			}
			if res.SentRPS < 199 || res.SentRPS > 201 || res.AchievedRPS < 190 || res.AchievedRPS > 210 {
				t.Errorf("sent %.1f, achieved %.1f req/s; want 200", res.SentRPS, res.AchievedRPS)
			}
			if res.StoppedBy != "duration" || res.Transport != tr || res.MaxConnections != 64 || res.MaxWorkers != 64 {
				t.Errorf("stopped by %q, transport %q, %d connections, %d workers; want duration, %s, 64, 64", res.StoppedBy, res.Transport, res.MaxConnections, res.MaxWorkers, tr)
			}
			if got := res.Window.End.Sub(res.Window.Start); got != cfg.Duration {
				t.Errorf("window %s; want %s", got, cfg.Duration)
			}
			if res.Generator.CPUs == 0 || res.Generator.WarmupRequests != 50 {
				t.Errorf("generator %+v; want CPUs > 0 and 50 warmup requests", res.Generator)
			}
			if len(progress) == 0 || progress[len(progress)-1].Elapsed < time.Second {
				t.Errorf("progress calls %+v; want at least one after 1 s", progress)
			}
			for _, c := range res.Classes {
				checkHgrm(t, filepath.Join(dir, res.Files["hgrm:"+c.Name]), c.Requests)
				checkHgrm(t, filepath.Join(dir, res.Files["hgrm-service:"+c.Name]), c.Requests)
				checkHlog(t, filepath.Join(dir, res.Files["hlog:"+c.Name]), c, len(res.Timeline))
			}
			checkRaw(t, &raw, res.Requests, time.Second/time.Duration(cfg.Rate))
		})
	}
}

var hgrmTotal = regexp.MustCompile(`(?m)^#\[Max\s*=\s*([0-9.]+), Total count\s*=\s*(\d+)\]$`)

// checkHgrm parses a .hgrm percentile file and checks its total count.
func checkHgrm(t *testing.T, path string, want int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hgrm: %v", err)
	}
	if !bytes.HasPrefix(b, []byte(" Value\tPercentile\tTotalCount\t1/(1-Percentile)\n\n")) {
		t.Errorf("%s: header %q; want the .hgrm header", path, bytes.SplitN(b, []byte("\n"), 2)[0])
	}
	m := hgrmTotal.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no \"#[Max = ..., Total count = ...]\" footer:\n%s", path, b)
	}
	if n, _ := strconv.ParseInt(string(m[2]), 10, 64); n != want {
		t.Errorf("%s: total count %d; want %d", path, n, want)
	}
	rows := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[0] != "Value" {
			if _, err := strconv.ParseFloat(f[0], 64); err != nil {
				t.Errorf("%s: row %q: %v", path, sc.Text(), err)
			}
			rows++
		}
	}
	if want > 0 && rows == 0 {
		t.Errorf("%s: no percentile rows", path)
	}
}

// checkHlog reads an interval log: one histogram per second, adding up to the
// class's requests and distribution, in nanoseconds, each interval's
// Interval_Max column in milliseconds (what HdrHistogram's log tools assume).
func checkHlog(t *testing.T, path string, c result.Class, seconds int) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hlog: %v", err)
	}
	var maxMs []float64 // the Interval_Max column, interval by interval
	for line := range strings.Lines(string(text)) {
		if f := strings.Split(line, ","); len(f) == 4 && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, `"`) {
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("%s: Interval_Max %q: %v", path, f[2], err)
			}
			maxMs = append(maxMs, v)
		}
	}
	rd := hdr.NewHistogramLogReader(bytes.NewReader(text))
	merged := hdr.New(histMin*nsPerUnit, histMax*nsPerUnit, histSig)
	n := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: interval %d: %v", path, n, err)
		}
		if h == nil {
			break
		}
		if got := h.EndTimeMs() - h.StartTimeMs(); got > 1000 || got <= 0 {
			t.Errorf("%s: interval %d lasts %d ms", path, n, got)
		}
		if h.TotalCount() > 0 && n < len(maxMs) {
			if want := float64(h.Max()) / 1e6; math.Abs(maxMs[n]-want) > 0.001+want/100 {
				t.Errorf("%s: interval %d: Interval_Max %g; want its histogram's max %g ms", path, n, maxMs[n], want)
			}
		}
		merged.Merge(h)
		n++
	}
	if n != seconds {
		t.Errorf("%s: %d intervals; want %d (one per second)", path, n, seconds)
	}
	if merged.TotalCount() != c.Requests {
		t.Errorf("%s: %d values; want %d", path, merged.TotalCount(), c.Requests)
	}
	// Both histograms keep 3 significant digits: they agree to about 0.1 %.
	if p99 := float64(merged.ValueAtQuantile(99)) / 1e6; c.Requests > 0 && math.Abs(p99-c.Response.P99) > 0.002+c.Response.P99/500 {
		t.Errorf("%s: merged p99 %.4f ms; class response p99 %.3f ms", path, p99, c.Response.P99)
	}
}

// checkRaw decodes vegeta's binary results.
// Each carries its intended send time (ticks every interval, by Seq), its
// response time and its body's length.
func checkRaw(t *testing.T, raw io.Reader, want int64, interval time.Duration) {
	t.Helper()
	dec := vegeta.NewDecoder(raw)
	var n int64
	var first vegeta.Result
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("raw result %d: %v", n, err)
		}
		if r.Latency <= 0 || r.URL == "" || r.Code != 200 || r.Timestamp.IsZero() || !strings.HasPrefix(r.Attack, "cell-") || r.BytesIn == 0 {
			t.Errorf("raw result %d: %+v", n, r)
		}
		if n == 0 {
			first = r
		} else if got, want := r.Timestamp.Sub(first.Timestamp), time.Duration(int64(r.Seq)-int64(first.Seq))*interval; got != want {
			t.Errorf("raw result %d (seq %d): timestamp %s after seq %d's; want %s (intended send times)", n, r.Seq, got, first.Seq, want)
		}
		n++
	}
	if n != want {
		t.Errorf("raw output holds %d results; want %d", n, want)
	}
}

// A server slower than the offered rate, with the pool as the limit: the
// cell is valid and over capacity, and the response time (from the intended
// send time) shows the queueing that the service time (vegeta's latency)
// leaves out.
func TestOverCapacity(t *testing.T) {
	url := testServer(t)
	res := attack(t, Config{
		BaseURL:        url,
		Mix:            []plan.Class{{Name: "slow", Target: "/slow?ms=200", Weight: 1}},
		Rate:           100,
		Warmup:         250 * time.Millisecond,
		Duration:       1500 * time.Millisecond,
		MaxConnections: 2,
	}, nil)
	checkCounts(t, res)
	v := res.Validity
	if !v.Valid || !v.OverCapacity || len(v.Reasons) == 0 || !strings.HasPrefix(v.Reasons[0], "Over capacity: all 2 connections were busy") {
		t.Errorf("validity %+v; want valid, over capacity, all 2 connections busy", v)
	}
	c := res.Classes[0]
	if c.Response.P99 < 3*c.Service.P99 || c.Service.P99 < 190 {
		t.Errorf("response p99 %.1f ms, service p99 %.1f ms; want service ≈ 200 ms and response ≫ service", c.Response.P99, c.Service.P99)
	}
	if res.PeakInFlight != 2 || res.PoolFull < 0.5 {
		t.Errorf("peak in flight %d, pool full %.2f of the window; want 2, most of it", res.PeakInFlight, res.PoolFull)
	}
	if res.SentRPS > 20 || res.NeverSent == 0 {
		t.Errorf("sent %.1f req/s, never sent %d; want about 10 req/s (2 connections × 5/s), many never sent", res.SentRPS, res.NeverSent)
	}
	// Every request due in the window is measured or censored, and the
	// censored ones make the tail a lower bound.
	if res.Requests+res.Censored != 150 || c.Response.Censored != res.Censored || !c.Response.LowerBound(c.Response.P99) {
		t.Errorf("%d measured + %d censored (class: %d, p99 %.1f ms, least censored %.1f ms); want 150 (100/s × 1.5 s), p99 a lower bound",
			res.Requests, res.Censored, c.Response.Censored, c.Response.P99, c.Response.CensoredMin)
	}
	t.Logf("response %+v\nservice %+v\nlag %+v\nvalidity %q", c.Response, c.Service, res.DispatchLag, v.Reasons)
}

// A generator that cannot send the offered rate (one worker for 50 000 req/s)
// with connections to spare is flagged invalid.
func TestGeneratorBound(t *testing.T) {
	url := testServer(t)
	res, err := Attack(context.Background(), Config{
		BaseURL:    url,
		Mix:        []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}},
		Rate:       50000,
		Duration:   time.Second,
		MaxWorkers: 1,
	})
	if err != nil {
		t.Fatalf("Attack: %v", err)
	}
	checkCounts(t, res)
	v := res.Validity
	if v.Valid || len(v.Reasons) < 2 || !strings.Contains(v.Reasons[0], "Generator-bound: sent ") {
		t.Errorf("validity %+v; want invalid, generator-bound: sent …", v)
	}
	if res.PeakInFlight != 1 {
		t.Errorf("peak in flight %d; want 1 (one worker)", res.PeakInFlight)
	}
	t.Logf("sent %.0f req/s of 50000, lag %+v\nreasons %q", res.SentRPS, res.DispatchLag, v.Reasons)
}

func TestRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			res := attack(t, Config{
				BaseURL:   url,
				Mix:       []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}},
				Rate:      50,
				Duration:  500 * time.Millisecond,
				Transport: tr,
			}, nil)
			checkCounts(t, res)
			c := res.Classes[0]
			if res.Requests != 25 || c.ErrorsByKind[KindRefused] != 25 || len(c.ErrorsByKind) != 1 {
				t.Errorf("%d requests, errors by kind %v; want 25 refused", res.Requests, c.ErrorsByKind)
			}
			if res.AchievedRPS != 0 {
				t.Errorf("achieved %.1f; want 0 (no answers)", res.AchievedRPS)
			}
			// A generator that a busy machine starved judges itself
			// generator-bound, rightly (attack retried up to 3 times); the
			// verdict on the server is then not ours to check.
			if v := res.Validity; v.Cause == result.CauseGenerator {
				t.Logf("validity not checked: the generator was starved on every attempt: %v", v.Reasons)
			} else if !v.Valid || !v.OverCapacity {
				t.Errorf("validity %+v; want valid, over capacity (no answers)", v)
			}
		})
	}
}

func TestMaxRequests(t *testing.T) {
	url := testServer(t)
	res := attack(t, Config{
		BaseURL:     url,
		Mix:         []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}},
		Rate:        200,
		Warmup:      100 * time.Millisecond,
		Duration:    5 * time.Second,
		MaxRequests: 70, // 20 in the warmup, 50 measured
	}, nil)
	checkCounts(t, res)
	if res.StoppedBy != "max_requests" || res.Requests != 50 || res.Generator.WarmupRequests != 20 {
		t.Errorf("stopped by %q after %d + %d warmup requests; want max_requests after 50 + 20", res.StoppedBy, res.Requests, res.Generator.WarmupRequests)
	}
	if got := res.Window.End.Sub(res.Window.Start); got != 250*time.Millisecond || len(res.Timeline) != 1 {
		t.Errorf("window %s, %d seconds; want 250ms (the 50 requests' share of the schedule), 1", got, len(res.Timeline))
	}
	if res.SentRPS < 190 {
		t.Errorf("sent %.1f; want 200 req/s", res.SentRPS)
	}
	// A 250 ms window makes its p99 stall its worst one: a GC or a
	// preemption under -race is enough for the generator to judge itself
	// generator-bound, rightly (attack retried it). Only a verdict against
	// the server would be wrong here.
	if v := res.Validity; v.Cause == result.CauseGenerator {
		t.Logf("validity not checked: the generator judged itself bound on every attempt: %v", v.Reasons)
	} else if !v.Valid {
		t.Errorf("validity %+v; want valid", v)
	}
}

func TestCancel(t *testing.T) {
	url := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Attack(ctx, Config{
		BaseURL:  url,
		Mix:      []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}},
		Rate:     100,
		Warmup:   100 * time.Millisecond,
		Duration: 10 * time.Second,
		OutDir:   t.TempDir(),
	})
	if !errors.Is(err, context.DeadlineExceeded) || res == nil {
		t.Fatalf("Attack = %v, %v; want a result and the context's error", res, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled attack returned after %s", d)
	}
	checkCounts(t, res)
	// When the cancellation lands depends on the machine's load, so the window's
	// length is only bounded loosely; the requests must match the window at the
	// offered rate (one request of slack at each edge), whatever its length:
	// sent, or due and missed by a generator the machine starved.
	window := res.Window.End.Sub(res.Window.Start)
	if res.StoppedBy != "context" || window <= 0 || window > 2*time.Second || len(res.Timeline) != int(window/time.Second)+1 {
		t.Errorf("stopped by %q, window %s, %d seconds; want context, a window under 2s, one second per started second", res.StoppedBy, window, len(res.Timeline))
	}
	// Every request due in the window up to the cancellation is measured
	// or censored (one request of slack at each edge).
	total := res.Requests + res.Censored
	if due := window.Seconds() * 100; res.Requests < 1 || math.Abs(float64(total)-due) > 2 {
		t.Errorf("%d window requests measured + %d censored by the end of a %s window at 100 req/s; want some, and %.0f ± 2",
			res.Requests, res.Censored, window, due)
	}
}

// A short Ceiling run: the steps go up by Factor until MaxRate.
func TestCeilingSteps(t *testing.T) {
	url := testServer(t)
	res, err := Ceiling(context.Background(), url, CeilingOptions{
		Start: 100, Factor: 2, MaxRate: 400, Warmup: 50 * time.Millisecond, Step: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Ceiling: %v", err)
	}
	var offered []float64
	for _, s := range res.Steps {
		offered = append(offered, s.Offered)
	}
	if len(offered) < 3 || offered[0] != 100 || offered[1] != 200 || res.RPS < 90 || res.Transport != DefaultTransport {
		t.Errorf("Ceiling steps %v, best %.0f req/s, transport %s; want 100, 200, 400 and a best rate", offered, res.RPS, res.Transport)
	}
}

// TestEarlyStopAchieved: when the sending stops early, the achieved rate
// counts the answers received by the shortened window's end, the window it is
// divided by; answers to the last requests, arriving 100 ms later, are not in
// it. (They used to be counted up to the planned end: 280 req/s of 200
// offered after max_requests, about 120 of 100 after a cancellation.)
func TestEarlyStopAchieved(t *testing.T) {
	url := testServer(t)
	slow := []plan.Class{{Name: "slow", Target: "/slow?ms=100", Weight: 1}}
	t.Run("max_requests", func(t *testing.T) {
		res := attack(t, Config{
			BaseURL:     url,
			Mix:         slow,
			Rate:        200,
			Warmup:      100 * time.Millisecond,
			Duration:    5 * time.Second,
			MaxRequests: 70, // 20 in the warmup, 50 measured: a 250 ms window
		}, nil)
		if res.StoppedBy != "max_requests" {
			t.Fatalf("stopped by %q; want max_requests", res.StoppedBy)
		}
		// Requests sent by 250 ms in are answered by the window's end at
		// 350 ms: at most 50 answers in 250 ms, 200 req/s (+1 answer of slack).
		if res.AchievedRPS > 204 || res.AchievedRPS < 100 {
			t.Errorf("achieved %.1f req/s in a %s window; want about 200 (at most 204)", res.AchievedRPS, res.Window.End.Sub(res.Window.Start))
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		defer cancel()
		res, err := Attack(ctx, Config{
			BaseURL:  url,
			Mix:      slow,
			Rate:     100,
			Warmup:   100 * time.Millisecond,
			Duration: 10 * time.Second,
		})
		if !errors.Is(err, context.DeadlineExceeded) || res == nil {
			t.Fatalf("Attack = %v, %v; want a result and the context's error", res, err)
		}
		w := res.Window.End.Sub(res.Window.Start)
		// Answers by the cancellation: requests sent (warmup included) up to
		// 100 ms before it, as many as the window is long at 100 req/s.
		if max := 100 + 1/w.Seconds(); res.AchievedRPS > max {
			t.Errorf("achieved %.1f req/s in a %s window; want at most %.1f (answers after the cancellation counted?)", res.AchievedRPS, w, max)
		}
	})
}

// TestNewConnections: with NewConnections every request opens its own
// connection; without, the pool's connections are reused.
func TestNewConnections(t *testing.T) {
	for _, tr := range transports {
		for _, fresh := range []bool{false, true} {
			t.Run(tr+"/"+strconv.FormatBool(fresh), func(t *testing.T) {
				var mu sync.Mutex
				conns := 0
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_, _ = io.WriteString(w, "hello\n")
				}))
				srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						mu.Lock()
						conns++
						mu.Unlock()
					}
				}
				srv.Start()
				t.Cleanup(srv.Close)
				res := attack(t, Config{
					BaseURL: srv.URL, Mix: []plan.Class{{Name: "plain", Target: "/plain", Weight: 1}},
					Rate: 100, Duration: 500 * time.Millisecond, MaxConnections: 4, Transport: tr, NewConnections: fresh,
				}, func() { mu.Lock(); conns = 0; mu.Unlock() })
				mu.Lock()
				defer mu.Unlock()
				if res.OK == 0 {
					t.Fatalf("no request answered: %+v", res.Validity)
				}
				if fresh && int64(conns) < res.Requests {
					t.Errorf("NewConnections: %d connections for %d requests; want one each", conns, res.Requests)
				}
				if !fresh && conns > 4 {
					t.Errorf("kept alive: %d connections for %d requests; want at most the pool's 4", conns, res.Requests)
				}
			})
		}
	}
}
