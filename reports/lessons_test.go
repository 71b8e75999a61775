package reports

import (
	"slices"
	"strings"
	"testing"

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
