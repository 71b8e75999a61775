package loadgen

import (
	"sort"
	"sync"
	"time"
)

// flight counts the requests in flight: handed to the HTTP client by a vegeta
// worker (mixTargeter, called inside hit()) and not yet received by the
// recorder. It also measures how long every connection of the pool was busy
// (in flight ≥ bound) during the measured window. With MaxWorkers equal to
// MaxConnections (the default), in flight = busy workers = busy connections,
// plus the microseconds a finished worker waits to hand its result over.
type flight struct {
	mu        sync.Mutex // guards every field below
	n         int
	bound     int       // MaxConnections
	start     time.Time // measured window (start, end]; zero until known
	end       time.Time
	peak      int           // highest n reached during the window
	fullSince time.Time     // when n reached bound; zero while below
	full      time.Duration // time at bound within the window
	handed    uint64        // requests handed to the client so far
	// spans are the latest stretches at bound, oldest first: between
	// maxSpans and 2·maxSpans once any was dropped (dropped), all of them
	// before (see overlapsFull).
	spans   []span
	dropped bool
}

// span is a stretch of time the pool was full.
type span struct{ from, to time.Time }

// maxSpans bounds the stretches at bound kept for overlapsFull: a pool
// flapping at its bound thousands of times a second keeps only the latest
// (the older half is dropped when 2·maxSpans are held).
const maxSpans = 4096

// overlapsFull reports whether the pool was full at some moment of [from,
// to]: a request due at from and sent at to may have waited for a
// connection. A stretch older than every one kept counts as full (the
// request is not blamed on the generator). Safe for concurrent use.
func (f *flight) overlapsFull(from, to time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.fullSince.IsZero() && !f.fullSince.After(to) {
		return true
	}
	if f.dropped && (len(f.spans) == 0 || from.Before(f.spans[0].from)) {
		return true
	}
	// Stretches are disjoint and in order: the first one ending at or after
	// from is the only candidate.
	i := sort.Search(len(f.spans), func(i int) bool { return !f.spans[i].to.Before(from) })
	return i < len(f.spans) && !f.spans[i].from.After(to)
}

func newFlight(bound int) *flight { return &flight{bound: bound} }

// setWindow sets (or narrows, on an early stop) the measured window.
func (f *flight) setWindow(start, end time.Time) {
	f.mu.Lock()
	f.start, f.end = start, end
	f.mu.Unlock()
}

// inc counts a request handed to the HTTP client. Safe for concurrent use.
func (f *flight) inc() {
	f.mu.Lock()
	f.n++
	f.handed++
	if f.n > f.peak || f.n == f.bound {
		now := time.Now()
		if f.n > f.peak && !f.start.IsZero() && now.After(f.start) && !now.After(f.end) {
			f.peak = f.n
		}
		if f.n == f.bound {
			f.fullSince = now
		}
	}
	f.mu.Unlock()
}

// dec counts a result received. Safe for concurrent use.
func (f *flight) dec() {
	f.mu.Lock()
	if f.n == f.bound {
		f.addFull(time.Now(), true)
	}
	f.n--
	f.mu.Unlock()
}

// addFull adds the part of [fullSince, now] inside the window, and (keep)
// the whole stretch to spans. f.mu is held.
func (f *flight) addFull(now time.Time, keep bool) {
	from, to := f.fullSince, now
	f.fullSince = time.Time{}
	if keep && !from.IsZero() {
		if len(f.spans) == 2*maxSpans {
			f.spans = append(f.spans[:0], f.spans[maxSpans:]...)
			f.dropped = true
		}
		f.spans = append(f.spans, span{from, to})
	}
	if from.IsZero() || f.start.IsZero() {
		return
	}
	if from.Before(f.start) {
		from = f.start
	}
	if to.After(f.end) {
		to = f.end
	}
	if to.After(from) {
		f.full += to.Sub(from)
	}
}

// stats returns the current count, the window's peak and the time at bound
// so far (including a stretch at bound that is still going on).
func (f *flight) stats() (n, peak int, full time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	full = f.full
	if !f.fullSince.IsZero() {
		since := f.fullSince
		f.addFull(time.Now(), false)
		full, f.full = f.full, full
		f.fullSince = since
	}
	return f.n, f.peak, full
}

// handedOut returns the number of requests handed to the HTTP client so far.
// Safe for concurrent use.
func (f *flight) handedOut() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handed
}
