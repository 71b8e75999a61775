package compare_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concbench/concbench/compare"
	"github.com/concbench/concbench/result"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// run is what `concbench compare` does minus flag parsing: the report and the exit code.
func run(t *testing.T, cfg compare.Config) (out string, code int, err error) {
	t.Helper()
	var b bytes.Buffer
	err = compare.Run(&b, cfg)
	return b.String(), compare.ExitCode(err), err
}

func TestKnownP99RegressionFails(t *testing.T) {
	dir := t.TempDir()
	old := synth{seed: 1, reps: 6, commit: "aaaa"}.save(t, dir, "old")
	new := synth{seed: 2, reps: 6, commit: "bbbb", factor: slower("eventloop", 1000, "cheap", compare.P99, 1.20)}.save(t, dir, "new")

	out, code, err := run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: "p99>+10%,throughput<-5%"})
	if code != 1 {
		t.Fatalf("exit code %d (err %v), want 1; output:\n%s", code, err, out)
	}
	var re *compare.RegressionError
	if !errors.As(err, &re) || len(re.Regressions) != 1 {
		t.Fatalf("err = %v, want one regression", err)
	}
	g := re.Regressions[0]
	if g.Model != "eventloop" || g.Rate != 1000 || g.Class != "cheap" || g.Figure != compare.P99 || g.ChangePct < 10 || g.ChangePct > 30 {
		t.Errorf("regression = %+v, want eventloop 1000/s cheap p99 about +20%%", g)
	}
	wantVerdict := "verdict: FAIL: 1 significant regression beyond thresholds: eventloop/cpu-mix 1000/s cheap p99 +"
	if !strings.Contains(out, wantVerdict) {
		t.Errorf("output lacks %q:\n%s", wantVerdict, out)
	}
	if !strings.Contains(err.Error(), "eventloop/cpu-mix 1000/s cheap p99 +") {
		t.Errorf("error %q does not name the regression", err)
	}
	if !strings.Contains(out, "← regression (p99>+10%)") {
		t.Errorf("table does not mark the regression:\n%s", out)
	}

	// The default thresholds leave a 20 % p99 growth alone (it is shown as a
	// significant change, not a regression).
	out, code, err = run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: compare.DefaultFailOn})
	if code != 0 || !strings.Contains(out, "verdict: PASS: no significant regression beyond p99>+25%, throughput<-10%") {
		t.Errorf("with the default thresholds: exit %d (err %v), want 0 and PASS; output:\n%s", code, err, out)
	}
}

func TestDoubledWorkFailsWithDefaults(t *testing.T) {
	// A model whose heavy route does twice the work: its heavy class takes twice
	// as long, the victims queue behind it, and the server burns twice the CPU.
	twice := func(m string, _ float64, c string, f compare.Figure) float64 {
		switch {
		case m != "eventloop":
			return 1
		case f == compare.CPU || (f.PerClass() && c == "hash"):
			return 2
		case f.PerClass():
			return 1.6
		}
		return 1
	}
	dir := t.TempDir()
	old := synth{seed: 3, reps: 6}.save(t, dir, "old")
	new := synth{seed: 4, reps: 6, factor: twice}.save(t, dir, "new")
	out, code, err := run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: compare.DefaultFailOn})
	var re *compare.RegressionError
	if code != 1 || !errors.As(err, &re) {
		t.Fatalf("exit %d (err %v), want 1; output:\n%s", code, err, out)
	}
	// p99 of both classes at both rates.
	if len(re.Regressions) != 4 {
		t.Errorf("got %d regressions, want 4 (p99 of 2 classes × 2 rates): %v", len(re.Regressions), err)
	}
	for _, g := range re.Regressions {
		if g.Model != "eventloop" || g.Figure != compare.P99 {
			t.Errorf("unexpected regression %v", g)
		}
	}
}

func TestSameDistributionPasses(t *testing.T) {
	// 20 A/A comparisons; each makes 28 tests, so some come out significant
	// by chance: the thresholds must keep every one green.
	dir := t.TempDir()
	changed := 0
	for i := range 20 {
		old := synth{seed: uint64(100 + 2*i), reps: 6}.save(t, dir, fmt.Sprintf("old%d", i))
		new := synth{seed: uint64(101 + 2*i), reps: 6}.save(t, dir, fmt.Sprintf("new%d", i))
		out, code, err := run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: compare.DefaultFailOn})
		if code != 0 {
			t.Fatalf("A/A %d: exit %d (err %v), want 0; output:\n%s", i, code, err, out)
		}
		changed += strings.Count(out, "%  p=")
	}
	t.Logf("20 A/A comparisons: %d of %d tests significant by chance, none beyond the thresholds", changed, 20*28)
}

func TestPooledRunsAndDroppedCells(t *testing.T) {
	dir := t.TempDir()
	// Old: two runs of 3 reps; new: one run of 6 reps with two invalid cells.
	old1 := synth{seed: 5, reps: 3, commit: "aaaa"}.save(t, dir, "old1")
	old2 := synth{seed: 6, reps: 3, commit: "aaaa"}.save(t, dir, "old2")
	new := synth{seed: 7, reps: 6, commit: "bbbb", invalid: map[string]bool{
		"goroutine.cpu-mix.r1000.2": true, "goroutine.cpu-mix.r1000.5": true}}.save(t, dir, "new")
	out, code, err := run(t, compare.Config{Old: []string{old1, old2}, New: []string{new}, FailOn: compare.DefaultFailOn})
	if code != 0 {
		t.Fatalf("exit %d (err %v); output:\n%s", code, err, out)
	}
	for _, want := range []string{
		`old: plan synthetic, commit aaaa, 6 reps per cell, 2 runs (` + old1 + ", " + old2 + ")\n",
		`new: plan synthetic, commit bbbb, 4–6 reps per cell, 1 run (` + new + "); 2 invalid cells dropped\n",
		"n=6+4", // goroutine at 1000/s: 6 old samples, 4 valid new ones
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUnusableInput(t *testing.T) {
	dir := t.TempDir()
	good := synth{seed: 8, reps: 2}.save(t, dir, "good")
	other := synth{seed: 9, reps: 2, models: []string{"thread"}}.save(t, dir, "other")

	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	schema2 := filepath.Join(dir, "schema2")
	if err := os.MkdirAll(schema2, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(good, result.FileName))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"schema": 1,`), []byte(`"schema": 2,`), 1)
	if err := os.WriteFile(filepath.Join(schema2, result.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	allInvalid := synth{seed: 10, reps: 1, invalid: map[string]bool{
		"eventloop.cpu-mix.r500.1": true, "eventloop.cpu-mix.r1000.1": true,
		"goroutine.cpu-mix.r500.1": true, "goroutine.cpu-mix.r1000.1": true}}.save(t, dir, "invalid")
	missing := filepath.Join(dir, "missing")
	few := synth{seed: 13, reps: 3}.save(t, dir, "few")
	six := synth{seed: 18, reps: 6}.save(t, dir, "six")

	for _, tc := range []struct {
		name     string
		old, new []string
		failOn   string
		format   string
		alpha    float64
		want     string
	}{
		{"garbage file", []string{garbage}, []string{good}, "", "", 0,
			"old: " + garbage + ": not a concbench results file: invalid character 'g' looking for beginning of value"},
		{"wrong schema", []string{good}, []string{schema2}, "", "", 0,
			"new: " + filepath.Join(schema2, result.FileName) + ": results schema 2, this concbench reads 1"},
		{"missing dir", []string{missing}, []string{good}, "", "", 0,
			"old: open " + missing + ": no such file or directory"},
		{"same run twice", []string{good, good}, []string{good}, "", "", 0,
			"old: " + good + " given twice (its repetitions would count double)"},
		{"no common cells", []string{good}, []string{other}, "", "", 0,
			"no cell was measured validly on both sides: old has eventloop/cpu-mix@500, eventloop/cpu-mix@1000, goroutine/cpu-mix@500 and 1 more; new has thread/cpu-mix@500, thread/cpu-mix@1000"},
		{"all invalid", []string{good}, []string{allInvalid}, "", "", 0,
			"no cell was measured validly on both sides: old has eventloop/cpu-mix@500, eventloop/cpu-mix@1000, goroutine/cpu-mix@500 and 1 more; new has no valid cell (4 invalid dropped)"},
		{"too few reps to detect anything", []string{good}, []string{few}, "p99>+10%", "", 0,
			"too few repetitions for any comparison to be significant (old 2, new 3 per cell): the smallest p-value 2+3 samples can give is 0.200, not below alpha 0.05; use --fail-on '' to report anyway"},
		{"too few reps on one side", []string{good}, []string{six}, "p99>+10%", "", 0,
			"too few repetitions for any comparison to be significant (old 2, new 6 per cell): the smallest p-value 2+6 samples can give is 0.071, not below alpha 0.05; use --fail-on '' to report anyway"},
		{"bad --fail-on", []string{good}, []string{good}, "p95>+10%", "", 0,
			`--fail-on: "p95>+10%": unknown figure "p95" (want throughput, p50, p99, p99.9, rss or cpu)`},
		{"unsigned --fail-on", []string{good}, []string{good}, "p99>10%", "", 0,
			`--fail-on: "p99>10%": want a signed percent after >, e.g. p99>+10%`},
		{"bad --format", []string{good}, []string{good}, "", "html", 0,
			`--format "html": want text or markdown`},
		{"bad --alpha", []string{good}, []string{good}, "", "", 1.5,
			"--alpha 1.5 out of range (0, 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, err := run(t, compare.Config{Old: tc.old, New: tc.new, FailOn: tc.failOn, Format: tc.format, Alpha: tc.alpha})
			if code != 2 || err == nil || err.Error() != tc.want {
				t.Errorf("compare.Run = exit %d, %v\nwant exit 2, %s", code, err, tc.want)
			}
			if out != "" {
				t.Errorf("wrote output before failing on its input:\n%s", out)
			}
		})
	}
}

func TestOneSidedCellsAreNamed(t *testing.T) {
	dir := t.TempDir()
	old := synth{seed: 14, reps: 6}.save(t, dir, "old")
	new := synth{seed: 15, reps: 6, models: []string{"eventloop"}}.save(t, dir, "new")
	out, code, err := run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: compare.DefaultFailOn})
	if code != 0 {
		t.Fatalf("exit %d (err %v); output:\n%s", code, err, out)
	}
	for _, want := range []string{
		"  note: only in old, not compared: goroutine/cpu-mix@500, goroutine/cpu-mix@1000\n",
		"; 2 cells were measured validly on one side only and not compared\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Reporting only (no thresholds) works with too few repetitions, and says so.
	few2 := synth{seed: 16, reps: 2}.save(t, dir, "few2")
	few3 := synth{seed: 17, reps: 3}.save(t, dir, "few3")
	out, code, err = run(t, compare.Config{Old: []string{few2}, New: []string{few3}})
	if want := "verdict: PASS: no thresholds set (report only); 0 of 36 comparisons changed significantly; 36 of 36 comparisons had too few repetitions to detect any difference\n"; code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d (err %v), want 0 and %q; output:\n%s", code, err, want, out)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&compare.RegressionError{}, 1},
		{fmt.Errorf("compare: %w", &compare.InputError{Err: errors.New("x")}), 2},
		{errors.New("write: broken pipe"), 1},
	} {
		if got := compare.ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d; want %d", tc.err, got, tc.want)
		}
	}
}

// TestGolden pins the text and Markdown reports of a comparison with one
// injected 20 % p99 regression, a throughput drop and too few repetitions on
// one cell. Run with -update to rewrite; on a mismatch the actual output is
// written beside the golden file as *.actual.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	old := synth{seed: 11, reps: 6, commit: "0123456789abcdef0123456789abcdef01234567", models: []string{"eventloop"}}.save(t, dir, "old")
	factor := func(m string, r float64, c string, f compare.Figure) float64 {
		switch {
		case r == 1000 && c == "cheap" && f == compare.P99:
			return 1.2
		case r == 1000 && f == compare.Throughput:
			return 0.85
		}
		return 1
	}
	new := synth{seed: 12, reps: 6, commit: "fedcba9876543210fedcba9876543210fedcba98", models: []string{"eventloop"}, factor: factor,
		invalid: map[string]bool{"eventloop.cpu-mix.r500.1": true, "eventloop.cpu-mix.r500.2": true, "eventloop.cpu-mix.r500.3": true}}.save(t, dir, "new")
	for _, format := range []string{"text", "markdown"} {
		t.Run(format, func(t *testing.T) {
			out, code, err := run(t, compare.Config{Old: []string{old}, New: []string{new}, FailOn: "p99>+10%,throughput<-5%", Format: format})
			if code != 1 {
				t.Fatalf("exit %d (err %v), want 1", code, err)
			}
			checkGolden(t, "regression."+format+".golden", strings.ReplaceAll(out, dir, "$TMP"))
		})
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	actual := path + ".actual"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(actual)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) == got {
		_ = os.Remove(actual)
		return
	}
	if err := os.WriteFile(actual, []byte(got), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Errorf("output differs from %s; actual written to %s (diff them, or run go test -update if the change is intended)", path, actual)
}
