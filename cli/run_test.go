package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/runner"
)

// TestRunUsage: bad plans and flags exit 2 with one line naming the field,
// before any server starts.
func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nmodels: [goroutine]\nscenarios:\n  - name: a\n    mix: [{target: /plain, weight: 0}]\n    rates: [10]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--plan", bad}, "concbench: run: plan " + bad + ": scenarios[0].mix[0].weight: must be > 0\n"},
		{[]string{"--plan", "nope"}, "concbench: run: plan nope: no such file or built-in plan (built-in: fidelity, full, quick, short)\n"},
		{[]string{"--models", "nodejs"}, `concbench: run: --models: unknown model "nodejs" (one of thread, apache-worker, eventloop, node-loop, offload, node-pool, cluster, node-cluster, goroutine)` + "\n"},
		{[]string{"--scenario", "nope"}, `concbench: run: --scenario: no scenario "nope" in plan quick (one of io-wait, cpu-mix, next-tick, set-immediate, redos, block, pool-flood, tiny-work)` + "\n"},
		{[]string{"--rates", "10,x"}, `concbench: run: --rates: "x" is not a number` + "\n"},
		{[]string{"--rates", "-5"}, "concbench: run: --rates: -5 out of range (0, 1e+06]\n"},
		{[]string{"--duration", "1ms"}, "concbench: run: --duration: 1ms out of range [500ms, 30m0s]\n"},
		{[]string{"--reps", "0"}, "concbench: run: --reps: must be ≥ 1\n"},
		{[]string{"--server-cpus", "1-x"}, "concbench: run: --server-cpus: cpu list \"1-x\": bad cpu number \"x\"\n"},
		{[]string{"--ceiling", "-1"}, "concbench: run: --ceiling: -1 must be > 0\n"},
		{[]string{"extra"}, "concbench: run: unexpected argument \"extra\" (run 'concbench help run')\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), &stdout, &stderr, append([]string{"run", "--out", dir}, tt.args...))
		if code != ExitUsage || stderr.String() != tt.want {
			t.Errorf("run %q = %d, %q; want %d, %q", tt.args, code, stderr.String(), ExitUsage, tt.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a refused run wrote into %s: %v", dir, ents)
	}
}

func TestRunPrintPlan(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), &stdout, &stderr, []string{"run", "--plan", "short", "--models", "goroutine", "--rates", "10", "--warmup", "0", "--print-plan"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"name: short", "models:\n  - goroutine\n", "rates:\n      - 10\n", "warmup: 0s"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--print-plan output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestRunExit: interrupted beats broken SLOs, which beat invalid cells.
func TestRunExit(t *testing.T) {
	out := func(invalid, broken int) *runner.Outcome {
		return &runner.Outcome{Dir: "results/x", Run: &result.Run{Cells: make([]result.Cell, 4)}, Invalid: invalid, SLOBroken: broken}
	}
	tests := []struct {
		o    *runner.Outcome
		err  error
		want int
	}{
		{out(0, 0), nil, ExitOK},
		{out(1, 0), nil, ExitInvalid},
		{out(0, 1), nil, ExitSLO},
		{out(1, 1), nil, ExitSLO},
		{out(1, 1), runner.ErrInterrupted, ExitInterrupted},
		{out(0, 0), errors.New("disk full"), ExitError},
	}
	for _, tt := range tests {
		var w bytes.Buffer
		err := runExit(&w, tt.o, tt.err)
		code := ExitOK
		if err != nil {
			code = ExitError
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			}
		}
		if code != tt.want {
			t.Errorf("runExit(invalid %d, broken %d, %v) = %d (%v); want %d", tt.o.Invalid, tt.o.SLOBroken, tt.err, code, err, tt.want)
		}
		if !strings.Contains(w.String(), "results: results/x\n") {
			t.Errorf("runExit output lacks the results line: %q", w.String())
		}
	}
}
