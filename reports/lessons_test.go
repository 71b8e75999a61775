package reports

import (
	"slices"
	"strings"
	"testing"

	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// TestLessonsFollowTheRun: a lesson's status changes with what the run could
// measure, not with scenario names.
func TestLessonsFollowTheRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*result.Run)
		claim  string // a prefix of the lesson's claim
		want   LessonStatus
		why    string // in Why
	}{
		{"as measured", func(*result.Run) {}, "a cluster buys", Reproduced, ""},
		{"one server CPU", func(r *result.Run) { r.Env.Pinning.ServerCPUs = "1" }, "a cluster buys", NotMeasurable, "had 1 CPU"},
		{"no offload", func(r *result.Run) {
			r.Cells = slices.DeleteFunc(r.Cells, func(c result.Cell) bool { return c.Model == "offload" })
		}, "an offload pool", NotMeasurable, "needs eventloop and offload"},
		{"no thread", func(r *result.Run) {
			r.Cells = slices.DeleteFunc(r.Cells, func(c result.Cell) bool { return c.Model == "thread" })
		}, "an event loop holds", NotMeasurable, "needs eventloop and thread"},
		{"renamed scenarios", func(r *result.Run) {
			for i := range r.Plan.Scenarios {
				r.Plan.Scenarios[i].Name += "-x"
			}
			for i := range r.Cells {
				r.Cells[i].Scenario += "-x"
			}
		}, "CPU work on", Reproduced, ""},
		{"a timeout class whose every match was cut off", func(r *result.Run) {
			const target = "/regex?n=24&engine=backtrack&timeout_ms=50"
			for i := range r.Plan.Scenarios {
				if s := &r.Plan.Scenarios[i]; s.Name == "redos" {
					s.Mix = append(s.Mix, plan.Class{Name: "bt24", Target: target, Weight: 1, Heavy: true, Bounded: true})
				}
			}
			for i := range r.Cells {
				if c := &r.Cells[i]; c.Scenario == "redos" {
					c.Classes = append(c.Classes, result.Class{Name: "bt24", Target: target, Weight: 1, Heavy: true, Bounded: true,
						Requests: 10, Errors: 10, ErrorsByKind: map[string]int64{"status_5xx": 10},
						Failed: &result.Latency{Count: 10, P50: 55, P90: 58, P99: 60, Max: 61}})
				}
			}
		}, "backtracking time doubles", Reproduced, ""},
		{"tiny work: slower offloaded, same CPU", func(r *result.Run) { tinyRun(r, 0.2, 0.12) }, "offloading tiny work", Reproduced, ""},
		{"tiny work: no dearer offloaded", func(r *result.Run) { tinyRun(r, 0.12, 0.12) }, "offloading tiny work", NotReproduced, "both under"},
	} {
		run, err := result.Load(fixtureDir)
		if err != nil {
			t.Fatal(err)
		}
		tc.change(run)
		r, err := Build(run)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(r.Lessons, func(l Lesson) bool { return strings.HasPrefix(l.Claim, tc.claim) })
		if i < 0 {
			t.Fatalf("%s: no lesson %q in %+v", tc.name, tc.claim, r.Lessons)
		}
		if l := r.Lessons[i]; l.Status != tc.want || !strings.Contains(l.Why, tc.why) {
			t.Errorf("%s: lesson %q = %s (%s); want %s with %q", tc.name, tc.claim, l.Status, l.Why, tc.want, tc.why)
		}
	}
}

// tinyRun turns the fixture's cpu-mix-5 into a tiny-work scenario whose
// offload and eventloop cells used the same CPU per request, with these
// service p50s (ms) of the tiny class.
func tinyRun(r *result.Run, offloadP50, loopP50 float64) {
	const target = "/cpu?iters=50"
	for i := range r.Plan.Scenarios {
		if s := &r.Plan.Scenarios[i]; s.Name == "cpu-mix-5" {
			s.Mix = []plan.Class{{Name: "tiny", Target: target, Weight: 1, Heavy: true}}
		}
	}
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Scenario != "cpu-mix-5" {
			continue
		}
		p50 := loopP50
		if c.Model == "offload" {
			p50 = offloadP50
		}
		c.Classes = []result.Class{{Name: "tiny", Target: target, Weight: 1, Heavy: true, Requests: c.Requests, OK: c.Requests,
			Response: result.Latency{Count: c.Requests, P50: p50, P90: p50, P99: p50, Max: p50},
			Service:  result.Latency{Count: c.Requests, P50: p50, P90: p50, P99: p50, Max: p50}}}
		c.OK, c.Errors = c.Requests, 0
		c.Resources.CPUPer1kReqMs = 140
	}
}
