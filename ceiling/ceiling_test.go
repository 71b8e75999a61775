package ceiling

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/runner"
)

// TestRunWrk runs a stand-in wrk that prints wrk's summary.
func TestRunWrk(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "wrk")
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args") + "\nprintf 'Running 1s test\\n  64 connections\\nRequests/sec:  62345.67\\nTransfer/sec:      7.61MB\\n'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	rps, err := runWrk(context.Background(), fake, "http://127.0.0.1:1/plain", time.Second, nil)
	if err != nil || rps != 62345.67 {
		t.Errorf("runWrk = %g, %v; want 62345.67", rps, err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if got := strings.TrimSpace(string(args)); got != "-t1 -c64 -d1s http://127.0.0.1:1/plain" {
		t.Errorf("wrk args %q", got)
	}
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'unable to connect' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := runWrk(context.Background(), fake, "http://127.0.0.1:1/plain", time.Second, nil); err == nil || !strings.Contains(err.Error(), "unable to connect") {
		t.Errorf("runWrk of a failing wrk = %v", err)
	}
}

// TestSaveLoad: a ceiling measured here loads back; one from another machine
// or without a figure does not.
func TestSaveLoad(t *testing.T) {
	here := runner.Environment("", "-")
	check := func(name string, c *Result, wantErr string) {
		t.Helper()
		dir := t.TempDir()
		path, err := Save(dir, c)
		if err != nil || path != filepath.Join(dir, File) {
			t.Fatalf("%s: Save = %q, %v; want %s", name, path, err, filepath.Join(dir, File))
		}
		got, err := Load(dir)
		switch {
		case wantErr == "" && (err != nil || got.RPS != c.RPS || !got.Measured.Equal(c.Measured)):
			t.Errorf("%s: Load = %+v, %v; want RPS %g measured %s", name, got, err, c.RPS, c.Measured)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: Load = %v; want an error containing %q", name, err, wantErr)
		}
	}
	measured := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	check("here", &Result{Measured: measured, RPS: 41000, Env: here}, "")
	elsewhere := here
	elsewhere.Hostname += "-elsewhere"
	check("elsewhere", &Result{Measured: measured, RPS: 41000, Env: elsewhere}, "measured on another machine")
	check("no figure", &Result{Measured: measured, Env: here}, "no ceiling figure")
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of a directory without " + File + ": no error")
	}
}

// TestLagMedians: runs of one rate and pacing fold into one row, each figure
// its own median, rows in the order their first run ran.
func TestLagMedians(t *testing.T) {
	run := func(rate float64, pacing string, lag float64) loadgen.LagStep {
		return loadgen.LagStep{Rate: rate, Pacing: pacing, LagP50: lag, LagP99: 10 * lag, CPUPercent: lag}
	}
	in := []loadgen.LagStep{
		run(1000, loadgen.PacingPrecise, 0.03), run(1000, loadgen.PacingVegeta, 0.5),
		run(10000, loadgen.PacingPrecise, 0.04),
		run(1000, loadgen.PacingPrecise, 0.01), run(1000, loadgen.PacingVegeta, 0.7),
		run(1000, loadgen.PacingPrecise, 0.02),
	}
	got := LagMedians(in)
	want := []loadgen.LagStep{
		{Rate: 1000, Pacing: loadgen.PacingPrecise, LagP50: 0.02, LagP99: 0.2, CPUPercent: 0.02},
		{Rate: 1000, Pacing: loadgen.PacingVegeta, LagP50: 0.6, LagP99: 6, CPUPercent: 0.6},
		{Rate: 10000, Pacing: loadgen.PacingPrecise, LagP50: 0.04, LagP99: 0.4, CPUPercent: 0.04},
	}
	if len(got) != len(want) {
		t.Fatalf("LagMedians(%+v) = %+v; want %+v", in, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
		if g.Rate != w.Rate || g.Pacing != w.Pacing || !near(g.LagP50, w.LagP50) || !near(g.LagP99, w.LagP99) || !near(g.CPUPercent, w.CPUPercent) {
			t.Errorf("LagMedians row %d = %+v; want %+v", i, g, w)
		}
	}
}
