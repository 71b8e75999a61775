// Package plan holds what a benchmark run is asked to do: the models, the
// scenarios (a traffic mix offered at one or more rates) and the SLO thresholds
// that gate the run. Plans are small YAML or JSON files; see README for the schema.
package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/concbench/concbench/launch"
)

// Plan is one benchmark plan. Durations marshal as Go duration strings ("5s").
type Plan struct {
	// Name labels the run's results directory.
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Models to run, in order; each is started as its own server process per
	// cell. A name is a built-in model or one of Servers.
	Models []string `json:"models" yaml:"models"`
	// Servers are the user's own servers, started by command like the models
	// (see UserServer); list their names in Models to run them.
	Servers []UserServer `json:"servers,omitempty" yaml:"servers,omitempty"`
	// Target, when set, is a running server every cell loads instead of
	// starting one (`concbench run --target`); Models is then its name alone.
	Target *Target `json:"target,omitempty" yaml:"target,omitempty"`
	// Duration of each cell's measured window, after Warmup (not counted).
	Duration Duration `json:"duration" yaml:"duration"`
	Warmup   Duration `json:"warmup" yaml:"warmup"`
	// Reps repeats every cell, interleaved (all cells once, then again), for a spread.
	Reps int `json:"reps" yaml:"reps"`
	// Retries reruns a cell that came out generator-bound for a transient
	// reason — the generator stalled or sent late, a state of the machine
	// (on a VM, a busy host stealing CPU) rather than of the configuration —
	// up to this many times, right away. Every discarded attempt stays in
	// results.json (discarded_attempts) with its reasons, and the kept cell
	// says it was retried. 0 (the default) keeps the first attempt, whatever
	// it measured.
	Retries int `json:"retries,omitempty" yaml:"retries,omitempty"`
	// MaxConnections bounds the load generator's connection pool (default 64).
	MaxConnections int `json:"max_connections,omitempty" yaml:"max_connections,omitempty"`
	// Timeout bounds each request (default 10s); a request past it is an error.
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// Server holds flags passed to `concbench serve` for every model (e.g. workers).
	Server    ServerSettings `json:"server,omitempty" yaml:"server,omitempty"`
	Scenarios []Scenario     `json:"scenarios" yaml:"scenarios"`
	SLOs      []SLO          `json:"slos,omitempty" yaml:"slos,omitempty"`
}

// ServerSettings are the model settings of a plan; zero means the model's
// default. launch owns them, with their flags and bounds.
type ServerSettings = launch.Tuning

// Scenario is a traffic mix offered at one or more constant rates (one cell per
// rate and model).
type Scenario struct {
	Name        string  `json:"name" yaml:"name"`
	Description string  `json:"description,omitempty" yaml:"description,omitempty"`
	Mix         []Class `json:"mix" yaml:"mix"`
	// Rates are offered request rates in requests per second.
	Rates []float64 `json:"rates" yaml:"rates"`
	// Duration and Warmup override the plan's for this scenario when set.
	Duration Duration `json:"duration,omitempty" yaml:"duration,omitempty"`
	Warmup   Duration `json:"warmup,omitempty" yaml:"warmup,omitempty"`
	// MaxConnections overrides the plan's for this scenario when set (an I/O wait
	// scenario needs many requests in flight at once).
	MaxConnections int `json:"max_connections,omitempty" yaml:"max_connections,omitempty"`
	// Models, when set, runs this scenario for these of the plan's models
	// only (e.g. a pool-saturation case for the pool models); empty: all.
	Models []string `json:"models,omitempty" yaml:"models,omitempty"`
	// NewConnections sends every request of the scenario on a new
	// connection (Connection: close), so that a multi-process server's
	// balancing of new connections is what is measured.
	NewConnections bool `json:"new_connections,omitempty" yaml:"new_connections,omitempty"`
}

// RunsModel reports whether the scenario runs model (see Models).
func (s Scenario) RunsModel(model string) bool {
	return len(s.Models) == 0 || slices.Contains(s.Models, model)
}

// Class is one weighted target of a mix. Each class gets its own latency
// histogram, so cheap "victim" requests can be read apart from heavy ones.
type Class struct {
	Name   string `json:"name" yaml:"name"`
	Target string `json:"target" yaml:"target"` // path and query, e.g. "/cpu?iters=20000"
	Weight int    `json:"weight" yaml:"weight"`
	// Heavy marks the class that does the expensive work; reports read the
	// others as victims.
	Heavy bool `json:"heavy,omitempty" yaml:"heavy,omitempty"`
	// Bounded marks a class whose requests are meant to fail fast: work cut
	// off by its own timeout (a regex match with timeout_ms), the damage
	// bounded. Its failures are counted and shown as for any class, but do
	// not stop a model from counting as keeping up.
	Bounded bool `json:"bounded,omitempty" yaml:"bounded,omitempty"`
	// Calibrate, when set on a /cpu or backtracking /regex class, asks the
	// runner to scale the class's work (iters, or n) per model before the
	// cells so that one request takes about this long on that server: a
	// unit of work costs differently in Go, V8 and Lua. The target as
	// written is the starting point; results.json records what was used
	// (result.Calibration).
	Calibrate Duration `json:"calibrate,omitempty" yaml:"calibrate,omitempty"`
}

// SLO is a threshold on a figure of the matching cells: a broken one is printed
// and makes the run exit with its own code.
type SLO struct {
	// Model, Scenario and Class select cells and classes; empty or "*" matches
	// all. An SLO is checked against each matching class separately.
	Model    string `json:"model,omitempty" yaml:"model,omitempty"`
	Scenario string `json:"scenario,omitempty" yaml:"scenario,omitempty"`
	Class    string `json:"class,omitempty" yaml:"class,omitempty"`
	// Expr is "FIGURE OP VALUE" (see ParseExpr): p50|p90|p99|p99.9|p99.99|max
	// against a duration ("p99 <= 50ms", response time), or errors against a
	// percentage of the class's requests ("errors < 0.1%"). OP is <, <=, > or >=.
	Expr string `json:"expr" yaml:"expr"`
}

// Duration is a time.Duration that reads and writes as "250ms".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string like \"5s\", got %s", b)
	}
	return d.parse(s)
}

// UnmarshalYAML reads a duration string such as "1.5s". A bad value is
// reported with its line, like yaml's own type errors.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration string like \"5s\", got %s", n.Line, strconv.Quote(n.Value))}}
	}
	if err := d.parse(n.Value); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want a duration like \"5s\", got %s", strconv.Quote(s))
	}
	*d = Duration(v)
	return nil
}
