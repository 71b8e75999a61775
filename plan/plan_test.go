package plan

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/catalog"
)

// base is a minimal valid YAML plan; bad plans are built by editing it.
const base = `name: t
models: [goroutine]
scenarios:
  - name: mix
    mix:
      - {name: plain, target: /plain, weight: 99}
      - {name: cpu, target: "/cpu?iters=1000", weight: 1, heavy: true}
    rates: [100]
`

func TestParseGood(t *testing.T) {
	p, err := Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatalf("Parse(base) = %v", err)
	}
	s := p.Scenarios[0]
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v; want %v", what, got, want)
		}
	}
	check("Duration", p.Duration.D(), DefaultDuration)
	check("Warmup", p.Warmup.D(), DefaultWarmup)
	check("Timeout", p.Timeout.D(), DefaultTimeout)
	check("Reps", p.Reps, DefaultReps)
	check("MaxConnections", p.MaxConnections, DefaultMaxConnections)
	check("scenario Duration", s.Duration.D(), DefaultDuration)
	check("scenario Warmup", s.Warmup.D(), DefaultWarmup)
	check("scenario MaxConnections", s.MaxConnections, DefaultMaxConnections)
	check("NumCells", p.NumCells(), 1)
	check("Heavy", s.Mix[1].Heavy, true)
	check("Estimate", p.Estimate(), DefaultDuration+DefaultWarmup)
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name, src string
		check     func(t *testing.T, p Plan)
	}{
		{"json", `{"name": "j", "models": ["goroutine"], "duration": "2s", "warmup": "250ms", "reps": 3,
		  "scenarios": [{"name": "io", "mix": [{"target": "/io?ms=50", "weight": 1}], "rates": [10, 20], "max_connections": 256}],
		  "slos": [{"model": "goroutine", "class": "io", "expr": "p99.9 < 1s"}]}`,
			func(t *testing.T, p Plan) {
				if p.Name != "j" || p.Duration.D() != 2*time.Second || p.Warmup.D() != 250*time.Millisecond || p.Reps != 3 {
					t.Errorf("plan = %+v", p)
				}
				if c := p.Scenarios[0].Mix[0]; c.Name != "io" {
					t.Errorf("class name defaulted to %q; want io (the route)", c.Name)
				}
				if n := p.NumCells(); n != 6 {
					t.Errorf("NumCells = %d; want 6", n)
				}
			}},
		{"scenario models and calibration", strings.Replace(strings.Replace(base, "models: [goroutine]", "models: [goroutine, eventloop, offload]", 1),
			"rates: [100]", "rates: [100, 200]\n    models: [offload, thread]\n    new_connections: true", 1) + "reps: 2\n",
			func(t *testing.T, p Plan) {
				s := p.Scenarios[0]
				if !s.RunsModel("offload") || s.RunsModel("goroutine") || !s.NewConnections {
					t.Errorf("scenario = %+v: want it to run offload only, on new connections", s)
				}
				// offload × 2 rates × 2 reps; thread is not among the plan's models.
				if n := p.NumCells(); n != 4 {
					t.Errorf("NumCells = %d; want 4", n)
				}
			}},
		{"calibrated class", strings.Replace(base, "heavy: true", "heavy: true, calibrate: 100ms", 1),
			func(t *testing.T, p Plan) {
				if got := p.Scenarios[0].Mix[1].Calibrate.D(); got != 100*time.Millisecond {
					t.Errorf("calibrate = %s; want 100ms", got)
				}
			}},
		{"scenario overrides", base + "    duration: 2s\n    warmup: 100ms\n    max_connections: 8\nduration: 3s\n",
			func(t *testing.T, p Plan) {
				s := p.Scenarios[0]
				if s.Duration.D() != 2*time.Second || s.Warmup.D() != 100*time.Millisecond || s.MaxConnections != 8 || p.Duration.D() != 3*time.Second {
					t.Errorf("scenario = %+v, plan duration %s", s, p.Duration)
				}
			}},
		{"no name takes the file's", strings.Replace(base, "name: t\n", "", 1),
			func(t *testing.T, p Plan) {
				if p.Name != "plan-file" {
					t.Errorf("Name = %q; want plan-file", p.Name)
				}
			}},
		{"slos", base + "slos:\n  - {expr: \"p99 <= 50ms\", class: plain}\n  - {expr: \"errors < 0.1%\", model: \"*\"}\n",
			func(t *testing.T, p Plan) {
				if len(p.SLOs) != 2 {
					t.Fatalf("SLOs = %+v", p.SLOs)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.src), "dir/plan file.yaml")
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			tt.check(t, p)
		})
	}
}

func TestParseBad(t *testing.T) {
	known := strings.Join(catalog.Names(), ", ")
	tests := []struct {
		name, src, want string
	}{
		{"empty", "  \n", "plan q: empty plan"},
		{"unknown field", base + "modelz: [x]\n", `plan q: line 9: unknown field "modelz"`},
		{"unknown nested field", strings.Replace(base, "rates: [100]", "rates: [100]\n    rate: 5", 1), `plan q: line 9: unknown field "rate"`},
		{"unknown json field", `{"name": "j", "modelz": []}`, `plan q: unknown field "modelz"`},
		{"json syntax", "{\"name\": \"j\",\n \"models\": [}", "plan q: line 2: invalid character '}' looking for beginning of value"},
		{"json type", "{\"name\": \"j\",\n \"reps\": \"3\"}", "plan q: line 2: reps: want int, got JSON string"},
		{"bad duration", base + "duration: fast\n", `plan q: line 9: want a duration like "5s", got "fast"`},
		{"number as duration", base + "warmup: 5\n", `plan q: line 9: want a duration string like "5s", got "5"`},
		{"two documents", base + "---\nname: u\n", "plan q: more than one YAML document (remove the second '---')"},
		{"no models", strings.Replace(base, "models: [goroutine]", "models: []", 1), "plan q: models: at least one model is required (" + known + ")"},
		{"unknown model", strings.Replace(base, "models: [goroutine]", "models: [goroutine, nodejs]", 1), `plan q: models[1]: unknown model "nodejs" (one of ` + known + ")"},
		{"model twice", strings.Replace(base, "models: [goroutine]", "models: [goroutine, goroutine]", 1), `plan q: models[1]: "goroutine" is listed twice`},
		{"bad name", strings.Replace(base, "name: t", "name: ../x", 1), `plan q: name: "../x" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"short duration", base + "duration: 100ms\n", "plan q: duration: 100ms out of range [500ms, 30m0s]"},
		{"negative warmup", base + "warmup: -1s\n", "plan q: warmup: -1s out of range [0s, 5m0s]"},
		{"scenario duration", strings.Replace(base, "rates: [100]", "rates: [100]\n    duration: 1h", 1), "plan q: scenarios[0].duration: 1h0m0s out of range [500ms, 30m0s]"},
		{"timeout", base + "timeout: 2m\n", "plan q: timeout: 2m0s out of range [10ms, 1m0s]"},
		{"reps", base + "reps: -1\n", "plan q: reps: -1 out of range [1, 100]"},
		{"retries", base + "retries: 6\n", "plan q: retries: 6 out of range [0, 5]"},
		{"retries negative", base + "retries: -1\n", "plan q: retries: -1 out of range [0, 5]"},
		{"connections", base + "max_connections: 20000\n", "plan q: max_connections: 20000 out of range [1, 10000]"},
		{"server setting", base + "server: {workers: -2}\n", "plan q: server.workers: -2 out of range [0, 1024] (0: the model's default)"},
		{"cluster balance", base + "server: {balance: hash}\n", `plan q: server.balance: "hash" is not one of rr, reuseport`},
		{"no scenarios", "name: t\nmodels: [goroutine]\n", "plan q: scenarios: at least one scenario is required"},
		{"scenario name twice", base + strings.SplitN(base, "scenarios:\n", 2)[1], `plan q: scenarios[1].name: "mix" is used by another scenario`},
		{"zero weight", strings.Replace(base, "weight: 99", "weight: 0", 1), "plan q: scenarios[0].mix[0].weight: must be > 0"},
		{"no mix", strings.Replace(base, "    mix:\n      - {name: plain, target: /plain, weight: 99}\n      - {name: cpu, target: \"/cpu?iters=1000\", weight: 1, heavy: true}\n", "", 1), "plan q: scenarios[0].mix: at least one class is required"},
		{"bad target", strings.Replace(base, "/cpu?iters=1000", "/cpu?iters=1e12", 1), `plan q: scenarios[0].mix[1].target: "/cpu?iters=1e12": parameter iters: want an integer in [1, 100000000], got "1e12"`},
		{"unknown route", strings.Replace(base, "target: /plain", "target: /nope", 1), `plan q: scenarios[0].mix[0].target: "/nope": not found: no route "/nope"`},
		{"url target", strings.Replace(base, "target: /plain", "target: http://example.com/plain", 1), `plan q: scenarios[0].mix[0].target: "http://example.com/plain" must start with '/' (a path and query, not a URL)`},
		{"class name twice", strings.Replace(base, "name: cpu,", "name: plain,", 1), `plan q: scenarios[0].mix[1].name: "plain" is used by another class of this mix (name each class)`},
		{"default class names collide", strings.Replace(strings.Replace(base, "name: cpu, target: \"/cpu?iters=1000\"", "target: \"/plain?\"", 1), "name: plain, ", "", 1), `plan q: scenarios[0].mix[1].name: "plain" is used by another class of this mix (name each class)`},
		{"same target twice", strings.Replace(base, "target: \"/cpu?iters=1000\"", "target: /plain", 1), `plan q: scenarios[0].mix[1].target: "/plain" is also the target of class "plain" (each class needs its own)`},
		{"no rates", strings.Replace(base, "rates: [100]", "rates: []", 1), "plan q: scenarios[0].rates: at least one rate (requests per second) is required"},
		{"zero rate", strings.Replace(base, "rates: [100]", "rates: [100, 0]", 1), "plan q: scenarios[0].rates[1]: must be > 0, got 0"},
		{"huge rate", strings.Replace(base, "rates: [100]", "rates: [2e6]", 1), "plan q: scenarios[0].rates[0]: 2e+06 is above the limit of 1e+06 requests per second"},
		{"rate twice", strings.Replace(base, "rates: [100]", "rates: [100, 100]", 1), "plan q: scenarios[0].rates[1]: 100 is listed twice"},
		{"slo figure", base + "slos:\n  - {expr: \"p95 < 5ms\"}\n", `plan q: slos[0].expr: "p95 < 5ms": unknown figure "p95" (one of p50, p90, p99, p99.9, p99.99, max, errors)`},
		{"slo op", base + "slos:\n  - {expr: \"p99 = 5ms\"}\n", `plan q: slos[0].expr: "p99 = 5ms": want FIGURE OP VALUE with OP one of <, <=, >, >=`},
		{"slo latency value", base + "slos:\n  - {expr: \"p99 <= 50\"}\n", `plan q: slos[0].expr: "p99 <= 50": p99 limit must be a positive duration, e.g. 50ms`},
		{"slo errors value", base + "slos:\n  - {expr: \"errors < 0.1\"}\n", `plan q: slos[0].expr: "errors < 0.1": errors limit must be a percentage in [0%, 100%], e.g. 0.1%`},
		{"slo empty", base + "slos:\n  - {class: plain}\n", `plan q: slos[0].expr: required, e.g. "p99 <= 50ms" or "errors < 0.1%"`},
		{"slo model", base + "slos:\n  - {expr: \"p99 < 1s\", model: nodejs}\n", `plan q: slos[0].model: unknown model "nodejs" (one of ` + known + `, or "*")`},
		{"slo scenario", base + "slos:\n  - {expr: \"p99 < 1s\", scenario: nope}\n", `plan q: slos[0].scenario: no scenario "nope" in this plan`},
		{"slo class", base + "slos:\n  - {expr: \"p99 < 1s\", class: io}\n", `plan q: slos[0].class: no class "io" in the matching scenarios`},
		{"calibrate a sleep", strings.Replace(base, "target: /plain, weight: 99", "target: \"/io?ms=5\", weight: 99, calibrate: 100ms", 1), `plan q: scenarios[0].mix[0].calibrate: only a /cpu or a backtracking /regex class can be calibrated (it scales iters or n), not "/io?ms=5"`},
		{"calibrate too long", strings.Replace(base, "heavy: true", "heavy: true, calibrate: 1m", 1), "plan q: scenarios[0].mix[1].calibrate: 1m0s out of range [1ms, 2s]"},
		{"calibrate a regex with reps", strings.Replace(base, "target: /plain, weight: 99", "target: \"/regex?n=18&engine=backtrack&reps=4\", weight: 99, calibrate: 100ms", 1), `plan q: scenarios[0].mix[0].calibrate: a calibrated /regex sets its own reps: leave reps out of "/regex?n=18&engine=backtrack&reps=4"`},
		{"scenario model", strings.Replace(base, "rates: [100]", "rates: [100]\n    models: [nodejs]", 1), `plan q: scenarios[0].models[0]: unknown model "nodejs" (one of ` + known + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "q")
			if err == nil {
				t.Fatalf("Parse(%q) = nil error; want %q", tt.src, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseExpr(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
		v    float64
		ok   bool
	}{
		{"p99 <= 50ms", Expr{"p99", "<=", 50, "ms"}, 50, true},
		{"p99.9<1s", Expr{"p99.9", "<", 1000, "ms"}, 1000, false},
		{"  max > 800us ", Expr{"max", ">", 0.8, "ms"}, 1, true},
		{"errors < 0.1%", Expr{"errors", "<", 0.1, "%"}, 0.05, true},
		{"errors >= 0 %", Expr{"errors", ">=", 0, "%"}, 0, true},
		{"p99.99 <= 2.5s", Expr{"p99.99", "<=", 2500, "ms"}, 2500.1, false},
	}
	for _, tt := range tests {
		got, err := ParseExpr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseExpr(%q) = (%+v, %v); want (%+v, nil)", tt.in, got, err, tt.want)
			continue
		}
		if ok := got.Check(tt.v); ok != tt.ok {
			t.Errorf("%+v.Check(%g) = %t; want %t", got, tt.v, ok, tt.ok)
		}
		if again, err := ParseExpr(got.String()); err != nil || again != got {
			t.Errorf("ParseExpr(%q) (String of %q) = (%+v, %v); want %+v", got.String(), tt.in, again, err, got)
		}
	}
}

// TestBuiltin parses every embedded plan and checks the promises made about them.
func TestBuiltin(t *testing.T) {
	names := BuiltinNames()
	if strings.Join(names, ",") != "fidelity,full,quick,short" {
		t.Fatalf("BuiltinNames() = %v; want [fidelity full quick short]", names)
	}
	for _, name := range names {
		p, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%q) = %v", name, err)
		}
		if p.Name != name {
			t.Errorf("Builtin(%q).Name = %q", name, p.Name)
		}
		goModels := catalog.Builtin().NamesOf(catalog.GoModel)
		if name != "fidelity" && !slices.Equal(p.Models[:min(len(p.Models), len(goModels))], goModels) {
			t.Errorf("plan %s runs %v; want every Go model first %v", name, p.Models, goModels)
		}
		// Start, stop and drain of a server take about 1.5 s per cell.
		est := p.Estimate() + time.Duration(p.NumCells())*1500*time.Millisecond
		t.Logf("plan %s: %d cells, about %s", name, p.NumCells(), est.Round(time.Second))
		switch name {
		case "fidelity":
			// Each reference right after the Go model it stands beside, so
			// that the pair is measured back to back within a repetition.
			var pairs []string
			for i, m := range p.Models {
				if e, _ := catalog.Lookup(m); e.Kind == catalog.Reference && i > 0 && p.Models[i-1] == e.Beside {
					pairs = append(pairs, e.Beside+"/"+m)
				}
			}
			if got := strings.Join(pairs, ","); got != "eventloop/node-loop,offload/node-pool,cluster/node-cluster,thread/apache-worker" {
				t.Errorf("plan fidelity pairs %s; want every Go model but goroutine followed by its reference", got)
			}
			if p.Reps < 3 || est > 12*time.Minute {
				t.Errorf("plan fidelity: %d reps, about %s; want at least 3 within 12m", p.Reps, est)
			}
		case "quick":
			if est > 5*time.Minute {
				t.Errorf("plan quick takes about %s; want at most 5m", est)
			}
			var have []string
			for _, s := range p.Scenarios {
				have = append(have, s.Name)
			}
			if got := strings.Join(have, ","); got != "io-wait,cpu-mix,next-tick,set-immediate,redos,block,pool-flood,tiny-work" {
				t.Errorf("quick scenarios = %s", got)
			}
		case "short":
			if est > 2*time.Minute {
				t.Errorf("plan short takes about %s; want at most 2m", est)
			}
		}
	}
	if _, err := Builtin("nope"); err == nil || err.Error() != "plan nope: no built-in plan of that name (one of fidelity, full, quick, short)" {
		t.Errorf("Builtin(nope) = %v", err)
	}
	if _, err := Builtin("../plan"); err == nil {
		t.Errorf("Builtin(../plan) = nil error")
	}
}

func TestResolveAndLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "my plan.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(base, "name: t\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(path)
	if err != nil || p.Name != "my-plan" {
		t.Errorf("Resolve(%q) = (%q, %v); want my-plan", path, p.Name, err)
	}
	if _, err := Resolve(filepath.Join(dir, "missing.yaml")); err == nil || !strings.HasSuffix(err.Error(), "missing.yaml: no such file or directory") {
		t.Errorf("Resolve(missing) = %v", err)
	}
	if _, err := Resolve("nosuchplan"); err == nil || err.Error() != "plan nosuchplan: no such file or built-in plan (built-in: fidelity, full, quick, short)" {
		t.Errorf("Resolve(nosuchplan) = %v", err)
	}
	// JSON round trip: a plan saved in results.json parses back to itself.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b, "results")
	if err != nil {
		t.Fatalf("Parse(json of %+v) = %v", p, err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("round trip:\n%s\n%s", b, b2)
	}
}

func TestApply(t *testing.T) {
	p, err := Parse([]byte(base+"slos:\n  - {expr: \"p99 < 1s\", scenario: mix}\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	o := Overrides{Rates: []float64{10, 20}, Duration: time.Second, Warmup: NoWarmup, Reps: 2, Retries: 3, MaxConns: 4}
	if err := p.Apply(o); err != nil {
		t.Fatalf("Apply(%+v) = %v", o, err)
	}
	s := p.Scenarios[0]
	if len(s.Rates) != 2 || s.Duration.D() != time.Second || s.Warmup != 0 || s.MaxConnections != 4 || p.Reps != 2 || p.Retries != 3 || p.NumCells() != 4 {
		t.Errorf("after Apply: plan %+v", p)
	}
	bad := []struct {
		o    Overrides
		want string
	}{
		{Overrides{Models: []string{"nodejs"}}, `--models: unknown model "nodejs" (one of ` + strings.Join(catalog.Names(), ", ") + ")"},
		{Overrides{Scenarios: []string{"io"}}, `--scenario: no scenario "io" in plan t (one of mix)`},
		{Overrides{Rates: []float64{-1}}, "--rates: -1 out of range (0, 1e+06]"},
		{Overrides{Duration: time.Millisecond}, "--duration: 1ms out of range [500ms, 30m0s]"},
		{Overrides{Reps: 1000}, "--reps: 1000 out of range [1, 100]"},
		{Overrides{Retries: 6}, "--retries: 6 out of range [0, 5]"},
	}
	for _, tt := range bad {
		q := p
		err := q.Apply(tt.o)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Apply(%+v) = %v; want %s", tt.o, err, tt.want)
		}
		if oe, ok := errors.AsType[*OverrideError](err); !ok || !strings.HasPrefix(tt.want, "--"+oe.Flag+": ") {
			t.Errorf("Apply(%+v) = %#v; want an *OverrideError naming the flag of %q", tt.o, err, tt.want)
		}
	}
	// A plan made invalid by valid overrides is the plan's error, not a flag's.
	q := p
	q.Scenarios = append([]Scenario(nil), p.Scenarios...)
	q.Scenarios[0].Mix = nil
	err = q.Apply(Overrides{Reps: 1})
	if _, ok := errors.AsType[*OverrideError](err); err == nil || ok {
		t.Errorf("Apply to a plan without a mix = %#v; want the plan's error, not an *OverrideError", err)
	}
}

func TestPoolWarnings(t *testing.T) {
	p := &Plan{Scenarios: []Scenario{
		{Name: "io", Mix: []Class{{Name: "io", Target: "/io?ms=50", Weight: 1}}, Rates: []float64{1000, 2000}},
		{Name: "io-wide", Mix: []Class{{Name: "io", Target: "/io?ms=50", Weight: 1}}, Rates: []float64{2000}, MaxConnections: 256},
		{Name: "cpu", Mix: []Class{{Name: "plain", Target: "/plain", Weight: 1}}, Rates: []float64{50000}},
	}}
	got := p.PoolWarnings(64)
	// 1000 × 50 ms = 50 ≤ 64; 2000 × 50 ms = 100 > 64; 100 ≤ 256; /plain asks no wait.
	if len(got) != 1 || !strings.Contains(got[0], `"io" at 2000 req/s needs ≥ 100 requests in flight`) {
		t.Errorf("PoolWarnings(64) = %q; want one, for io at 2000 req/s", got)
	}
}
