package loadgen

import (
	"math"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// schedule wraps vegeta's ConstantPacer to know every tick's intended send
// time, which vegeta does not record (its latency clock starts when a worker
// picks the tick up, in hit(): coordinated omission).
//
// Ticks are numbered in the order vegeta's pacing loop sends them: the pacer
// is asked Pace(elapsed, n) before tick n. ConstantPacer makes tick n due at
// (n+1)·interval after began, the attack's start (vegeta's attack.began, the
// origin of elapsed); schedule runs it half an interval ahead, so tick n is
// due at (n+½)·interval: in the middle of its slot, never on a whole multiple
// of the interval. A window (W, W+D] then holds exactly rate·D ticks, and a
// tick sent less than half an interval late still leaves inside the window
// it is due in. In hit(), each worker takes Seq and
// Timestamp under one lock, so Seq k is the k-th pickup: by then at least k+1
// ticks were sent, so tick k was sent no later than Timestamp(Seq k). Giving
// Seq k the intended time of tick k is therefore exact up to the order of
// ticks picked up at the same instant (identical ticks, so no information is
// lost), and dispatch lag = Timestamp − intended is never negative.
//
// A shard of a schedule split over several generators (Config.Phase) runs
// its ticks at another phase: tick n due at phase + n·interval, so that the
// shards' ticks interleave into the whole schedule's.
//
// schedule also stops the attack: no tick due after end is sent, and no more
// than max ticks in all.
type schedule struct {
	inner    vegeta.ConstantPacer
	interval time.Duration
	half     time.Duration // interval/2
	lead     time.Duration // interval − the first tick's due time (half by default)
	end      time.Duration // offset from began after which no tick is due
	max      uint64
	onStart  func(began time.Time) // called once, before the first tick

	mu      sync.Mutex // guards began, started, stopped, stopAt
	began   time.Time
	started bool
	stopped string        // why the pacer stopped: "duration" or "max_requests"
	stopAt  time.Duration // when, since began
}

var _ vegeta.Pacer = (*schedule)(nil)

// constantPacer returns vegeta's ConstantPacer for rate (> 0, ≤ 1e9):
// Freq per second when the rate is whole, else one hit per rounded interval.
func constantPacer(rate float64) vegeta.ConstantPacer {
	if rate == math.Trunc(rate) {
		return vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	}
	return vegeta.ConstantPacer{Freq: 1, Per: time.Duration(math.Round(1e9 / rate))}
}

// newSchedule returns the schedule of rate whose first tick is due at phase
// after the start (0: half an interval; else less than one interval, see
// Config.Phase).
func newSchedule(rate float64, phase, end time.Duration, max uint64, onStart func(time.Time)) *schedule {
	p := constantPacer(rate)
	// The same integer division as ConstantPacer.Pace.
	interval := time.Duration(p.Per.Nanoseconds() / int64(p.Freq))
	lead := interval / 2 // the default phase: the middle of the slot
	if phase > 0 && phase < interval {
		lead = interval - phase
	}
	return &schedule{
		inner:    p,
		interval: interval,
		half:     interval / 2,
		lead:     lead,
		end:      end,
		max:      max,
		onStart:  onStart,
	}
}

// Pace implements vegeta.Pacer. vegeta calls it from its one pacing goroutine.
func (s *schedule) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	s.mu.Lock()
	if !s.started {
		// elapsed was measured from attack.began an instant ago.
		s.began = time.Now().Add(-elapsed)
		s.started = true
		if s.onStart != nil {
			s.onStart(s.began)
		}
	}
	switch {
	case hits >= s.max:
		s.stopped = "max_requests"
	case s.at(hits) > s.end:
		s.stopped = "duration"
	}
	stop := s.stopped != ""
	if stop && s.stopAt == 0 {
		s.stopAt = elapsed
	}
	s.mu.Unlock()
	if stop {
		return 0, true
	}
	return s.inner.Pace(elapsed+s.lead, hits)
}

// Rate implements vegeta.Pacer.
func (s *schedule) Rate(elapsed time.Duration) float64 { return s.inner.Rate(elapsed) }

// at returns the intended send time of tick n as an offset from began.
func (s *schedule) at(n uint64) time.Duration { return time.Duration(n+1)*s.interval - s.lead }

// slotEnd returns the end of tick n's slot: half an interval after it is due.
func (s *schedule) slotEnd(n uint64) time.Duration { return s.at(n) + s.half }

// after returns the number of the first tick due strictly after offset t
// (t ≥ 0): ticks after(a) … after(b)−1 are due in (a, b].
func (s *schedule) after(t time.Duration) uint64 { return uint64((t + s.lead) / s.interval) }

// start returns the attack's start once the first tick was paced.
func (s *schedule) start() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.began, s.started
}

// stoppedAt returns when the pacer stopped the attack, since began.
func (s *schedule) stoppedAt() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopAt
}

func (s *schedule) stopReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}
