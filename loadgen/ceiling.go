package loadgen

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/concbench/concbench/plan"
)

// CeilingOptions configure Ceiling. Zero fields take the documented defaults.
type CeilingOptions struct {
	// Path is the cheap target (default "/plain").
	Path string
	// Transport and MaxConnections as in Config (defaults DefaultTransport, 64).
	Transport      string
	MaxConnections int
	// Start is the first offered rate (default 2000 req/s); each sustained step
	// multiplies it by Factor (default 1.25), up to MaxRate (default 1e6).
	Start, Factor, MaxRate float64
	// Warmup and Step are each step's warmup and measured window (defaults
	// 250ms and 1s).
	Warmup, Step time.Duration
	// Refine is the number of bisection steps between the last sustained rate
	// and the first one that was not, once it is found twice (default 2).
	Refine int
	// MaxLagP99 is the dispatch lag p99 above which a step is not sustained
	// (default 50ms). A generator past its ceiling falls further behind every
	// millisecond: within a one-second step its lag reaches tens to hundreds
	// of milliseconds and it sends less than 95 % of the rate. Shorter spikes
	// are the machine's noise (other processes), which the validity rules
	// judge cell by cell with their own, tighter bound.
	MaxLagP99 time.Duration
	// LagRates are the fixed rates at which the generator's precision is
	// measured before the search, each with both pacings back to back
	// (nil: 1000 and 10000 req/s; empty: none; see CeilingResult.Lag).
	// LagSteps is how many times each pair runs (default 2), interleaved.
	LagRates    []float64
	LagSteps    int
	AllowRemote bool
	// Progress, when set, is called after each step; LagProgress after each
	// precision run.
	Progress    func(CeilingStep)
	LagProgress func(LagStep)
}

// CeilingStep is one offered rate tried by Ceiling.
type CeilingStep struct {
	Offered, Sent, Achieved     float64
	DispatchLagP99, ResponseP99 time.Duration
	PeakInFlight                int
	Errors                      int64
	GeneratorCPU                float64       // share of the generator's CPUs
	GeneratorStallP99           time.Duration // Generator.HiccupP99
	// CPUPerRequest is the generator's CPU time per request sent: less noisy
	// than a rate on a shared machine.
	CPUPerRequest time.Duration
	// Sustained: sent and achieved ≥ 95% of offered, dispatch lag p99 ≤
	// CeilingOptions.MaxLagP99, and errors ≤ 0.1%. Why says what failed
	// otherwise.
	Sustained bool
	Why       string
}

// CeilingResult is the highest rate the generator sustained.
type CeilingResult struct {
	// RPS is the achieved rate of the best sustained step (0 if none was).
	RPS       float64
	Transport string
	Steps     []CeilingStep
	// Lag holds the precision runs at fixed rates, in the order run.
	Lag []LagStep
}

// LagStep is one precision run: how late requests left at a fixed rate well
// below the ceiling, with one pacing, and what that did to the cheapest
// response time.
type LagStep struct {
	Rate   float64 `json:"rate"`
	Pacing string  `json:"pacing"`
	// Dispatch lag, response time and service time of the run, in ms.
	LagP50      float64 `json:"lag_p50_ms"`
	LagP99      float64 `json:"lag_p99_ms"`
	ResponseP50 float64 `json:"response_p50_ms"`
	ServiceP50  float64 `json:"service_p50_ms"`
	// CPUPercent is the generator's CPU use (100 = one CPU busy): the cost of
	// the pacing shows as the difference between pacings at one rate.
	CPUPercent float64 `json:"cpu_percent"`
	// StallP99 is the generator's hiccup p99 in ms: a machine too busy to
	// judge the pacing by shows here.
	StallP99 float64 `json:"stall_p99_ms"`
}

// Ceiling first measures the generator's precision at opts.LagRates, each
// rate with both pacings back to back (LagStep), then the highest rate this
// load generator sustains against baseURL+Path: it offers Start req/s and steps the rate up by Factor until a
// step is not sustained (see CeilingStep), tries that rate once more (the
// machine is shared and noisy), then bisects Refine times between the last
// sustained rate and the failed one. It returns the best sustained rate, with
// every step. Against a server that is slower than the generator it measures
// the server instead: use the cheapest handler of the fastest server, pinned
// to its own CPU.
func Ceiling(ctx context.Context, baseURL string, opts CeilingOptions) (CeilingResult, error) {
	if opts.Path == "" {
		opts.Path = "/plain"
	}
	if opts.Transport == "" {
		opts.Transport = DefaultTransport
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.Start == 0 {
		opts.Start = 2000
	}
	if opts.Factor == 0 {
		opts.Factor = 1.25
	}
	if opts.MaxRate == 0 {
		opts.MaxRate = 1e6
	}
	if opts.Warmup == 0 {
		opts.Warmup = 250 * time.Millisecond
	}
	if opts.Step == 0 {
		opts.Step = time.Second
	}
	if opts.Refine == 0 {
		opts.Refine = 2
	}
	if opts.MaxLagP99 == 0 {
		opts.MaxLagP99 = 50 * time.Millisecond
	}
	if opts.LagRates == nil {
		opts.LagRates = []float64{1000, 10000}
	}
	if opts.LagSteps == 0 {
		opts.LagSteps = 2
	}
	if opts.Factor <= 1 || opts.Start <= 0 {
		return CeilingResult{}, fmt.Errorf("loadgen: ceiling: start %g, factor %g: want > 0 and > 1", opts.Start, opts.Factor)
	}
	out := CeilingResult{Transport: opts.Transport}
	attack := func(rate float64, pacing string) (*Result, error) {
		return Attack(ctx, Config{
			BaseURL:        baseURL,
			AllowRemote:    opts.AllowRemote,
			Mix:            []plan.Class{{Name: "plain", Target: opts.Path, Weight: 1}},
			Rate:           math.Round(rate),
			Warmup:         opts.Warmup,
			Duration:       opts.Step,
			MaxConnections: opts.MaxConnections,
			Timeout:        2 * time.Second,
			Transport:      opts.Transport,
			Pacing:         pacing,
			CellID:         "ceiling",
		})
	}
	for i := 0; i < opts.LagSteps; i++ {
		for _, rate := range opts.LagRates {
			for _, pacing := range []string{PacingPrecise, PacingVegeta} {
				res, err := attack(rate, pacing)
				if res == nil {
					return out, err
				}
				l := LagStep{
					Rate: res.OfferedRPS, Pacing: pacing,
					LagP50: res.DispatchLag.P50, LagP99: res.DispatchLag.P99,
					CPUPercent: round3(res.Generator.CPUPercent),
					StallP99:   ms(res.Generator.HiccupP99),
				}
				if len(res.Classes) > 0 {
					l.ResponseP50, l.ServiceP50 = res.Classes[0].Response.P50, res.Classes[0].Service.P50
				}
				out.Lag = append(out.Lag, l)
				if opts.LagProgress != nil {
					opts.LagProgress(l)
				}
				if err != nil {
					return out, err
				}
			}
		}
	}
	step := func(rate float64) (CeilingStep, error) {
		res, err := attack(rate, PacingPrecise)
		if res == nil {
			return CeilingStep{}, err
		}
		s := CeilingStep{
			Offered:           res.OfferedRPS,
			Sent:              res.SentRPS,
			Achieved:          res.AchievedRPS,
			DispatchLagP99:    time.Duration(res.DispatchLag.P99 * 1e6),
			PeakInFlight:      res.PeakInFlight,
			Errors:            res.Errors,
			GeneratorCPU:      res.Generator.CPUShare,
			GeneratorStallP99: res.Generator.HiccupP99,
		}
		if res.SentRPS > 0 {
			s.CPUPerRequest = time.Duration(res.Generator.CPUPercent / 100 / res.SentRPS * 1e9)
		}
		if len(res.Classes) > 0 {
			s.ResponseP99 = time.Duration(res.Classes[0].Response.P99 * 1e6)
		}
		switch {
		case s.Sent < MinSentShare*s.Offered:
			s.Why = fmt.Sprintf("sent %.0f of %.0f req/s", s.Sent, s.Offered)
		case s.Achieved < MinSentShare*s.Offered:
			s.Why = fmt.Sprintf("achieved %.0f of %.0f req/s", s.Achieved, s.Offered)
		case s.DispatchLagP99 > opts.MaxLagP99:
			s.Why = fmt.Sprintf("dispatch lag p99 %s", s.DispatchLagP99)
		case float64(s.Errors) > 0.001*float64(res.Requests):
			s.Why = fmt.Sprintf("%d errors of %d requests", s.Errors, res.Requests)
		default:
			s.Sustained = true
		}
		out.Steps = append(out.Steps, s)
		if opts.Progress != nil {
			opts.Progress(s)
		}
		if s.Sustained {
			out.RPS = max(out.RPS, s.Achieved)
		}
		return s, err
	}

	good, bad := 0.0, 0.0
	for rate := opts.Start; rate <= opts.MaxRate; {
		s, err := step(rate)
		if err != nil {
			return out, err
		}
		if s.Sustained {
			good = rate
			rate *= opts.Factor
			continue
		}
		if s, err = step(rate); err != nil { // once more: shared machines are noisy
			return out, err
		}
		if s.Sustained {
			good = rate
			rate *= opts.Factor
			continue
		}
		bad = rate
		break
	}
	for i := 0; i < opts.Refine && good > 0 && bad > 0; i++ {
		mid := math.Sqrt(good * bad)
		s, err := step(mid)
		if err != nil {
			return out, err
		}
		if s.Sustained {
			good = mid
		} else {
			bad = mid
		}
	}
	return out, nil
}
