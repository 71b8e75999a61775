package workloads

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRegexInput(t *testing.T) {
	for n, want := range map[int]string{0: "!", 1: "a!", 5: "aaaaa!"} {
		if got := RegexInput(n); got != want {
			t.Errorf("RegexInput(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestMatchRegexNoMatch(t *testing.T) {
	for _, e := range []Engine{EngineBacktrack, EngineRE2} {
		for _, n := range []int{0, 1, 5, 20} {
			if ok, err := MatchRegex(e, n, 0); ok || err != nil {
				t.Errorf("MatchRegex(%v, %d, 0) = %v, %v; want false, nil", e, n, ok, err)
			}
		}
	}
	// A timeout far beyond the match changes nothing.
	if ok, err := MatchRegex(EngineBacktrack, 5, time.Minute); ok || err != nil {
		t.Errorf("MatchRegex(backtrack, 5, 1m) = %v, %v; want false, nil", ok, err)
	}
}

func TestMatchRegexRE2Linear(t *testing.T) {
	start := time.Now()
	if ok, err := MatchRegex(EngineRE2, MaxRegexN, 0); ok || err != nil {
		t.Errorf("MatchRegex(re2, %d, 0) = %v, %v; want false, nil", MaxRegexN, ok, err)
	}
	// RE2 ignores the timeout: it needs none.
	if ok, err := MatchRegex(EngineRE2, MaxRegexN, time.Millisecond); ok || err != nil {
		t.Errorf("MatchRegex(re2, %d, 1ms) = %v, %v; want false, nil", MaxRegexN, ok, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("MatchRegex(re2, %d, 0) took %v; want it linear (well under 5s)", MaxRegexN, d)
	}
}

// matchWithin runs MatchRegex, giving up on it after limit.
func matchWithin(t *testing.T, e Engine, n int, timeout, limit time.Duration) (bool, error) {
	t.Helper()
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		ok, err := MatchRegex(e, n, timeout)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		return r.ok, r.err
	case <-time.After(limit):
		t.Fatalf("MatchRegex(%v, %d, %v) still running after %v; want it bounded by its timeout", e, n, timeout, limit)
		return false, nil
	}
}

func TestMatchRegexTimeout(t *testing.T) {
	// n=40 unbounded would take days; the timeout (late by up to regexp2's
	// ~100ms clock period) must stop it. No strict timing: it must return at all.
	ok, err := matchWithin(t, EngineBacktrack, 40, 50*time.Millisecond, 5*time.Second)
	if ok || !errors.Is(err, ErrRegexTimeout) {
		t.Errorf("MatchRegex(backtrack, 40, 50ms) = %v, %v; want false, %v", ok, err, ErrRegexTimeout)
	}
}

func TestRegexDone(t *testing.T) {
	check := func(req Request, matched bool, err error, want Response) {
		t.Helper()
		if got := RegexDone(req, matched, err); !sameResponse(got, want) {
			t.Errorf("RegexDone(%+v, %v, %v) = %s; want %s", req, matched, err, fmtResponse(got), fmtResponse(want))
		}
	}
	re2 := Request{Route: RouteRegex, N: 64, Engine: EngineRE2}
	back := Request{Route: RouteRegex, N: 40, Engine: EngineBacktrack, Timeout: 50 * time.Millisecond}
	check(re2, false, nil, text(200, "no match\n"))
	check(re2, true, nil, text(200, "match\n"))
	check(back, false, ErrRegexTimeout, text(503, "regex: backtracking match timed out after 50ms (n=40)\n"))
	check(back, true, ErrRegexTimeout, text(503, "regex: backtracking match timed out after 50ms (n=40)\n"))
	back.Timeout, back.N = time.Minute, 27
	check(back, false, ErrRegexTimeout, text(503, "regex: backtracking match timed out after 1m0s (n=27)\n"))
}

func TestRunRegexTimeout(t *testing.T) {
	req, perr := Parse("GET", "/regex", "n=40&engine=backtrack&timeout_ms=20")
	if perr != nil {
		t.Fatalf("Parse(%q, %q, %q) = _, %v; want nil", "GET", "/regex", "n=40&engine=backtrack&timeout_ms=20", perr)
	}
	want := text(503, "regex: backtracking match timed out after 20ms (n=40)\n")
	if got := RunRegex(req); !sameResponse(got, want) {
		t.Errorf("RunRegex(%+v) = %s; want %s", req, fmtResponse(got), fmtResponse(want))
	}
}

func TestTimeoutRegexCache(t *testing.T) {
	a, b := timeoutRegex(77*time.Millisecond), timeoutRegex(78*time.Millisecond)
	if a == b {
		t.Errorf("timeoutRegex(77ms) == timeoutRegex(78ms); want distinct regexes")
	}
	if a.MatchTimeout != 77*time.Millisecond || b.MatchTimeout != 78*time.Millisecond {
		t.Errorf("timeoutRegex(77ms, 78ms).MatchTimeout = %v, %v; want 77ms, 78ms", a.MatchTimeout, b.MatchTimeout)
	}
	if a2 := timeoutRegex(77 * time.Millisecond); a2 != a {
		t.Errorf("timeoutRegex(77ms) twice gave two regexes; want one cached")
	}
	if backtrackRegex.MatchTimeout == 77*time.Millisecond {
		t.Errorf("timeoutRegex(77ms) changed the shared unbounded regex")
	}
}

// TestMatchRegexConcurrentTimeouts runs bounded and unbounded matches with
// different timeouts at once: each must keep its own timeout (run with -race).
func TestMatchRegexConcurrentTimeouts(t *testing.T) {
	type call struct {
		e       Engine
		n       int
		timeout time.Duration
		wantErr error
	}
	var calls []call
	for i := 0; i < 6; i++ {
		timeout := time.Duration(10+15*i) * time.Millisecond
		calls = append(calls,
			call{EngineBacktrack, 40, timeout, ErrRegexTimeout},
			call{EngineBacktrack, 5, timeout, nil},
			call{EngineBacktrack, 10, 0, nil},
			call{EngineRE2, 40 + i, timeout, nil},
		)
	}
	// A match with a long timeout that finishes must not time out just because
	// matches with short timeouts run beside it.
	calls = append(calls, call{EngineBacktrack, 12, time.Minute, nil}, call{EngineBacktrack, 12, time.Minute, nil})

	var wg sync.WaitGroup
	errs := make(chan string, len(calls))
	for _, c := range calls {
		wg.Go(func() {
			for range 3 {
				ok, err := MatchRegex(c.e, c.n, c.timeout)
				if ok || err != c.wantErr {
					errs <- fmt.Sprintf("MatchRegex(%v, %d, %v) = %v, %v; want false, %v", c.e, c.n, c.timeout, ok, err, c.wantErr)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("concurrent matches still running after 20s; want every one bounded")
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
