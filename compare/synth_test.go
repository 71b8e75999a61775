package compare_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/concbench/concbench/compare"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// synth describes a synthetic run: every figure is a fixed "true" value times
// log-normal noise from a seeded generator, times factor (the injected change).
type synth struct {
	seed   uint64
	reps   int
	commit string
	models []string // default eventloop, goroutine
	// factor multiplies the true value of a figure; nil means no change.
	factor func(model string, rate float64, class string, f compare.Figure) float64
	// invalid lists IDs of cells flagged generator-bound.
	invalid map[string]bool
}

var synthRates = []float64{500, 1000}

type synthClass struct {
	name           string
	heavy          bool
	weight         int
	p50, p99, p999 float64 // ms
}

var synthClasses = []synthClass{
	{"cheap", false, 9, 1.2, 4, 8},
	{"hash", true, 1, 10, 14, 20},
}

// Noise of one repetition, as a log-normal sigma: throughput at a fixed
// offered rate barely moves, tails move more than medians.
const (
	sigmaRPS  = 0.002
	sigmaRSS  = 0.03
	sigmaCPU  = 0.04
	sigmaP50  = 0.03
	sigmaP99  = 0.05
	sigmaP999 = 0.10
)

func (s synth) run() *result.Run {
	rng := rand.New(rand.NewPCG(s.seed, 0x5eed))
	noise := func(sigma float64) float64 { return math.Exp(sigma * rng.NormFloat64()) }
	models := s.models
	if models == nil {
		models = []string{"eventloop", "goroutine"}
	}
	factor := func(model string, rate float64, class string, f compare.Figure) float64 {
		if s.factor == nil {
			return 1
		}
		return s.factor(model, rate, class, f)
	}
	round := func(v float64, unit float64) float64 { return math.Round(v/unit) * unit }
	var mix []plan.Class
	for _, c := range synthClasses {
		mix = append(mix, plan.Class{Name: c.name, Target: "/" + c.name, Weight: c.weight, Heavy: c.heavy})
	}
	r := &result.Run{
		Plan: plan.Plan{Name: "synthetic", Models: models, Reps: s.reps,
			Duration: plan.Duration(3e9), Warmup: plan.Duration(1e9),
			Scenarios: []plan.Scenario{{Name: "cpu-mix", Mix: mix, Rates: synthRates}}},
		Env: result.Environment{ConcbenchVersion: "test", Commit: s.commit, GoVersion: "go1.26", OS: "linux", Arch: "amd64",
			Kernel: "6.1", CPUModel: "Synthetic CPU @ 3.00GHz", Cores: 2, Hostname: "ci-1"},
	}
	for rep := 1; rep <= s.reps; rep++ {
		for _, m := range models {
			for _, rate := range synthRates {
				id := fmt.Sprintf("%s.cpu-mix.r%g.%d", m, rate, rep)
				c := result.Cell{
					ID: id, Model: m, Scenario: "cpu-mix", Rep: rep, Rate: rate, DurationSec: 300, WarmupSec: 1, // long enough for every p99.9 (≥ 10 000 values)
					SentRPS:     rate,
					AchievedRPS: round(rate*noise(sigmaRPS)*factor(m, rate, "", compare.Throughput), 0.1),
					Requests:    int64(rate * 300),
					OK:          int64(rate * 300),
					Validity:    result.Validity{Valid: !s.invalid[id]},
					Resources: result.Resources{Samples: 12,
						PeakRSSBytes:  int64(40 << 20 * noise(sigmaRSS) * factor(m, rate, "", compare.RSS)),
						CPUPer1kReqMs: round(120*noise(sigmaCPU)*factor(m, rate, "", compare.CPU), 0.01)},
				}
				if !c.Validity.Valid {
					c.Validity.Reasons = []string{"the generator fell behind"}
				}
				for _, sc := range synthClasses {
					n := int64(rate*300) * int64(sc.weight) / 10
					c.Classes = append(c.Classes, result.Class{
						Name: sc.name, Target: "/" + sc.name, Weight: sc.weight, Heavy: sc.heavy, Requests: n, OK: n,
						Response: result.Latency{Count: n,
							P50:  round(sc.p50*noise(sigmaP50)*factor(m, rate, sc.name, compare.P50), 0.001),
							P99:  round(sc.p99*noise(sigmaP99)*factor(m, rate, sc.name, compare.P99), 0.001),
							P999: round(sc.p999*noise(sigmaP999)*factor(m, rate, sc.name, compare.P999), 0.001)},
					})
				}
				r.Cells = append(r.Cells, c)
			}
		}
	}
	return r
}

// save writes the run as dir/name/results.json and returns the directory.
func (s synth) save(t *testing.T, dir, name string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := result.Save(d, s.run()); err != nil {
		t.Fatal(err)
	}
	return d
}

// slower returns a factor that multiplies one figure of one model (any rate,
// class "" matching every class) by x.
func slower(model string, rate float64, class string, f compare.Figure, x float64) func(string, float64, string, compare.Figure) float64 {
	return func(m string, r float64, c string, g compare.Figure) float64 {
		if m == model && (rate == 0 || r == rate) && (class == "" || c == class) && g == f {
			return x
		}
		return 1
	}
}
