package workloads

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// Pattern is the catastrophic pattern of /regex: nested quantifiers that a
// backtracking engine explores in 2^n ways on "a"*n + "!".
const Pattern = `^(a+)+$`

var (
	re2Regex       = regexp.MustCompile(Pattern)
	backtrackRegex = regexp2.MustCompile(Pattern, regexp2.None)

	// timeoutRegexes caches one compiled backtracking regex per timeout:
	// regexp2 reads MatchTimeout from the shared *Regexp, so concurrent matches
	// with different timeouts each need their own.
	timeoutMu      sync.Mutex
	timeoutRegexes = map[time.Duration]*regexp2.Regexp{}
)

// ErrRegexTimeout is returned when a bounded backtracking match ran out of time.
// regexp2 checks its deadline against a clock goroutine that ticks about every
// 100 ms, so a timeout fires up to ~100 ms late.
var ErrRegexTimeout = errors.New("regex match timed out")

// RegexInput returns the adversarial input of length n+1: "a"*n + "!".
func RegexInput(n int) string {
	return strings.Repeat("a", n) + "!"
}

// MatchRegex matches Pattern against RegexInput(n) with the given engine. A
// non-zero timeout bounds a backtracking match (RE2 needs none: it is linear).
func MatchRegex(engine Engine, n int, timeout time.Duration) (bool, error) {
	in := RegexInput(n)
	if engine == EngineRE2 {
		return re2Regex.MatchString(in), nil
	}
	re := backtrackRegex
	if timeout > 0 {
		re = timeoutRegex(timeout)
	}
	ok, err := re.MatchString(in)
	if err != nil {
		return false, ErrRegexTimeout
	}
	return ok, nil
}

func timeoutRegex(d time.Duration) *regexp2.Regexp {
	timeoutMu.Lock()
	defer timeoutMu.Unlock()
	if re, ok := timeoutRegexes[d]; ok {
		return re
	}
	re := regexp2.MustCompile(Pattern, regexp2.None)
	re.MatchTimeout = d
	if len(timeoutRegexes) < 64 { // bound the cache; rare extra values just compile again
		timeoutRegexes[d] = re
	}
	return re
}
