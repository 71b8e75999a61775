package runner

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/units"
)

// progress reports a run as it goes: on a terminal one line rewritten in place
// (cell i/N, model, scenario, elapsed, achieved req/s, errors, p99 so far) plus
// a line per finished cell; elsewhere (CI logs) plain lines only. It is safe for
// concurrent use: loadgen calls update from its own goroutine.
type progress struct {
	w        io.Writer
	terminal bool

	mu      sync.Mutex // guards the fields below and writes to w
	label   string     // "[3/25] eventloop cpu-mix 500/s"
	total   time.Duration
	live    bool      // a \r line is on screen
	lastOut time.Time // last live update, to keep the terminal calm
}

func newProgress(w io.Writer, terminal bool) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, terminal: terminal}
}

// logf prints one line, clearing a live line first.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) clearLocked() {
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.live = false
	}
}

// cellStart announces a cell; total is its warmup plus window.
func (p *progress) cellStart(label string, total time.Duration) {
	p.mu.Lock()
	p.label, p.total = label, total
	p.mu.Unlock()
	if !p.terminal {
		p.logf("%s: starting (%s)", label, total)
	}
}

// update shows loadgen's progress on a terminal; elsewhere it is dropped.
func (p *progress) update(lp loadgen.Progress) {
	if !p.terminal {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastOut) < 100*time.Millisecond {
		return
	}
	p.lastOut = time.Now()
	phase := ""
	if lp.Warmup {
		phase = " warmup"
	}
	line := fmt.Sprintf("%s %4.1fs/%s%s  %7.0f req/s  %d errors  p99 %s",
		p.label, lp.Elapsed.Seconds(), p.total, phase, lp.AchievedRPS, lp.Errors, units.Duration(lp.P99))
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.live = true
}
