// Package ceiling measures the load generator's ceiling: the highest rate it
// sustains against the fastest servers at /plain, pinned as a run pins them,
// with wrk's rate against the same servers beside it. `concbench ceiling`
// saves it in the results parent directory (File), and `concbench run` reads
// it from there to flag cells offered too close to it (runner.Options.CeilingRPS).
package ceiling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/concbench/concbench/cpuset"
	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/runner"
	"github.com/concbench/concbench/units"
)

// File is the name of the file `concbench ceiling` writes in the results
// parent directory and `concbench run` reads from it.
const File = "ceiling.json"

// Models are the servers the ceiling is measured against: the two
// fastest at /plain on one core.
var Models = []string{"goroutine", "eventloop"}

// Options configure Measure. Every field has a usable zero value.
type Options struct {
	Binary                  string   // as runner.Options.Binary
	Models                  []string // default Models
	ServerCPUs, LoadgenCPUs string   // as runner.Options
	// Loadgen configures the generator's search (loadgen.Ceiling).
	Loadgen loadgen.CeilingOptions
	// Wrk is the wrk executable: "" looks "wrk" up on PATH (skipped when
	// absent), "none" skips it. WrkDuration is its run (default 5s).
	Wrk         string
	WrkDuration time.Duration
	Version     string
	Log         io.Writer
	Terminal    bool
}

// Result is what `concbench ceiling` measured, as saved in File.
type Result struct {
	Measured time.Time `json:"measured"`
	// RPS is the figure runs use: the lowest generator ceiling over the servers.
	RPS       float64            `json:"rps"`
	Transport string             `json:"transport"`
	Env       result.Environment `json:"environment"`
	Servers   []OfServer         `json:"servers"`
	Wrk       string             `json:"wrk,omitempty"` // wrk's version line, when it ran
}

// OfServer is one server's row.
type OfServer struct {
	Model      string  `json:"model"`
	GOMAXPROCS int     `json:"server_gomaxprocs"`
	LoadgenRPS float64 `json:"loadgen_rps"`
	// WrkRPS is wrk -t1 -c64's rate against the same server (0: not run).
	WrkRPS float64 `json:"wrk_rps,omitempty"`
	// Ratio is LoadgenRPS / WrkRPS (0: wrk not run).
	Ratio float64               `json:"ratio,omitempty"`
	Steps []loadgen.CeilingStep `json:"steps"`
	// Lag is the generator's precision against this server at fixed rates,
	// with both pacings (loadgen.CeilingResult.Lag).
	Lag   []loadgen.LagStep `json:"lag,omitempty"`
	Error string            `json:"error,omitempty"`
}

// Measure measures the generator's ceiling against each model's /plain,
// the server pinned to the server CPUs and this process to the generator's
// (as in runner.Run), and wrk's rate against the same server in the same run.
func Measure(ctx context.Context, opts Options) (*Result, error) {
	ms := opts.Models
	if len(ms) == 0 {
		ms = Models
	}
	wrk := opts.Wrk
	switch wrk {
	case "none":
		wrk = ""
	case "":
		wrk, _ = exec.LookPath("wrk")
	default:
		if _, err := exec.LookPath(wrk); err != nil {
			return nil, fmt.Errorf("wrk: %w", err)
		}
	}
	if opts.WrkDuration == 0 {
		opts.WrkDuration = 5 * time.Second
	}
	host, err := runner.NewHost(runner.Options{
		Binary: opts.Binary, ServerCPUs: opts.ServerCPUs, LoadgenCPUs: opts.LoadgenCPUs,
		Version: opts.Version, Log: opts.Log, Terminal: opts.Terminal,
	})
	if err != nil {
		return nil, err
	}
	defer host.Close()
	lgSet := host.LoadgenCPUs()

	c := &Result{Measured: time.Now().UTC(), Env: host.Env}
	if wrk != "" {
		out, _ := exec.CommandContext(ctx, wrk, "--version").CombinedOutput()
		c.Wrk = firstLine(string(out))
	}
	host.LogPinning()
	for _, m := range ms {
		row := OfServer{Model: m}
		srv, err := host.StartServer(ctx, m)
		if err != nil {
			if ctx.Err() != nil {
				return c, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
			}
			row.Error = err.Error()
			c.Servers = append(c.Servers, row)
			host.Logf("%s: %v", m, err)
			continue
		}
		if snap, err := srv.Stats(ctx); err == nil {
			row.GOMAXPROCS = snap.GOMAXPROCS
		}
		lo := opts.Loadgen
		lo.Progress = func(s loadgen.CeilingStep) {
			verdict := "sustained"
			if !s.Sustained {
				verdict = "not sustained: " + s.Why
			}
			host.Logf("%s: offered %s, sent %s, achieved %s, dispatch lag p99 %s: %s",
				m, units.Rate(s.Offered), units.Num(s.Sent), units.Num(s.Achieved), units.Duration(s.DispatchLagP99), verdict)
		}
		lo.LagProgress = func(l loadgen.LagStep) {
			host.Logf("%s: %s, %s pacing: dispatch lag p50 %s p99 %s, response p50 %s (service %s), generator CPU %.0f %%",
				m, units.Rate(l.Rate), l.Pacing, MsDuration(l.LagP50), MsDuration(l.LagP99), MsDuration(l.ResponseP50), MsDuration(l.ServiceP50), l.CPUPercent)
		}
		res, lerr := loadgen.Ceiling(ctx, srv.URL(""), lo)
		row.LoadgenRPS, row.Steps, row.Lag = res.RPS, res.Steps, res.Lag
		c.Transport = res.Transport
		if lerr != nil && ctx.Err() == nil {
			row.Error = "loadgen: " + lerr.Error()
		}
		if wrk != "" && ctx.Err() == nil {
			rps, err := runWrk(ctx, wrk, srv.URL("/plain"), opts.WrkDuration, lgSet)
			if err != nil {
				row.Error = "wrk: " + err.Error()
			}
			row.WrkRPS = rps
			if rps > 0 {
				row.Ratio = row.LoadgenRPS / rps
			}
			host.Logf("%s: wrk -t1 -c64 -d%s: %s", m, opts.WrkDuration, units.Rate(rps))
		}
		_ = srv.Stop()
		if ctx.Err() != nil {
			return c, fmt.Errorf("%w: %w", runner.ErrInterrupted, context.Cause(ctx))
		}
		c.Servers = append(c.Servers, row)
	}
	for _, s := range c.Servers {
		if s.LoadgenRPS > 0 && (c.RPS == 0 || s.LoadgenRPS < c.RPS) {
			c.RPS = s.LoadgenRPS
		}
	}
	if c.RPS == 0 {
		return c, errors.New("no server gave a ceiling (see the errors above)")
	}
	return c, nil
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s*([0-9.]+)`)

// runWrk runs wrk -t1 -c64 against url on the generator's CPUs and returns its
// request rate.
func runWrk(ctx context.Context, wrk, url string, d time.Duration, cpus []int) (float64, error) {
	secs := max(int(math.Round(d.Seconds())), 1)
	cctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, wrk, "-t1", "-c64", "-d"+strconv.Itoa(secs)+"s", url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cpuset.StartOn(cmd, cpus); err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, firstLine(out.String()))
	}
	m := wrkRate.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in its output: %s", firstLine(out.String()))
	}
	return strconv.ParseFloat(m[1], 64)
}

func firstLine(s string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Save writes c to dir/File atomically.
func Save(dir string, c *Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, File)
	return path, result.WriteFileAtomic(path, append(b, '\n'))
}

// Load reads dir/File. It refuses a file measured on another
// machine (host name, CPU model or core count differ): a ceiling only holds
// where it was measured.
func Load(dir string) (*Result, error) {
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Result
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	here := runner.Environment("", "-")
	if c.Env.Hostname != here.Hostname || c.Env.CPUModel != here.CPUModel || c.Env.Cores != here.Cores {
		return nil, fmt.Errorf("%s was measured on another machine (%s, %d× %s)", path, c.Env.Hostname, c.Env.Cores, c.Env.CPUModel)
	}
	if !(c.RPS > 0) {
		return nil, fmt.Errorf("%s: no ceiling figure", path)
	}
	return &c, nil
}

// MsDuration formats a figure in milliseconds as a duration (µs below 1 ms).
func MsDuration(v float64) string { return units.Duration(time.Duration(math.Round(v * 1e6))) }

// LagMedians folds precision runs of the same rate and pacing into one, each
// figure the median of its runs, in the order each pair first ran.
func LagMedians(steps []loadgen.LagStep) []loadgen.LagStep {
	type key struct {
		rate   float64
		pacing string
	}
	var order []key
	runs := map[key][]loadgen.LagStep{}
	for _, l := range steps {
		k := key{l.Rate, l.Pacing}
		if _, ok := runs[k]; !ok {
			order = append(order, k)
		}
		runs[k] = append(runs[k], l)
	}
	out := make([]loadgen.LagStep, 0, len(order))
	for _, k := range order {
		rs := runs[k]
		med := func(f func(loadgen.LagStep) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			sort.Float64s(v)
			if n := len(v); n%2 == 0 {
				return (v[n/2-1] + v[n/2]) / 2
			}
			return v[len(v)/2]
		}
		out = append(out, loadgen.LagStep{
			Rate: k.rate, Pacing: k.pacing,
			LagP50:      med(func(l loadgen.LagStep) float64 { return l.LagP50 }),
			LagP99:      med(func(l loadgen.LagStep) float64 { return l.LagP99 }),
			ResponseP50: med(func(l loadgen.LagStep) float64 { return l.ResponseP50 }),
			ServiceP50:  med(func(l loadgen.LagStep) float64 { return l.ServiceP50 }),
			CPUPercent:  med(func(l loadgen.LagStep) float64 { return l.CPUPercent }),
			StallP99:    med(func(l loadgen.LagStep) float64 { return l.StallP99 }),
		})
	}
	return out
}
