package compare

import (
	"io"
	"math"
	"strings"
	"unicode"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"

	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

// ExportStats says what WriteBench wrote.
type ExportStats struct {
	// Results is the number of benchmark lines.
	Results int
	// Dropped lists the IDs of the invalid cells left out.
	Dropped []string
}

// WriteBench writes the valid cells of rs in the Go benchmark format, so the
// stock benchstat and benchmark dashboards can read them. Each run starts
// with its file configuration (goos, goarch, cpu, commit, plan; empty ones
// omitted), then each cell repetition gives one line of cell figures and one
// line per traffic class, with iteration count 1:
//
//	BenchmarkServe/model=eventloop/scenario=cpu-mix/rate=500 1 499.8 req/s 4.718592e+07 rss-B 61250 cpu-ns/req
//	BenchmarkServe/model=eventloop/scenario=cpu-mix/rate=500/class=cheap 1 1.2e+06 p50-ns 2.4e+06 p99-ns 3.1e+06 p99.9-ns
//
// Latencies are in ns (benchfmt reads them as p99-sec), RSS in bytes, CPU in
// ns per request. Unit lines first say which way is better. To compare two
// exports whose commits differ, tell benchstat to ignore the commit:
// `benchstat -ignore commit old.txt new.txt` (or `benchstat -col commit both.txt`).
func WriteBench(w io.Writer, rs []*result.Run) (ExportStats, error) {
	var st ExportStats
	bw := benchfmt.NewWriter(w)
	for _, f := range Figures {
		in := f.info()
		_, tidy := benchunit.Tidy(1, in.benchUnit)
		better := "lower"
		if in.higherIsBetter {
			better = "higher"
		}
		m := &benchfmt.UnitMetadata{UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: tidy, Key: "better"}, OrigUnit: in.benchUnit, Value: better}
		if err := bw.Write(m); err != nil {
			return st, err
		}
	}
	for _, r := range rs {
		var cfg []benchfmt.Config
		for _, kv := range [][2]string{{"goos", r.Env.OS}, {"goarch", r.Env.Arch}, {"cpu", r.Env.CPUModel}, {"commit", r.Env.Commit}, {"plan", r.Plan.Name}} {
			if v := strings.Join(strings.Fields(kv[1]), " "); v != "" {
				cfg = append(cfg, benchfmt.Config{Key: kv[0], Value: []byte(v), File: true})
			}
		}
		for i := range r.Cells {
			c := &r.Cells[i]
			if !c.Validity.Valid {
				st.Dropped = append(st.Dropped, c.ID)
				continue
			}
			name := "Serve/model=" + nameValue(c.Model) + "/scenario=" + nameValue(c.Scenario) + "/rate=" + units.Plain(c.Rate)
			var vals []benchfmt.Value
			for _, f := range Figures {
				if v, ok := f.cellValue(c); ok && !f.PerClass() {
					vals = append(vals, benchValue(f, v))
				}
			}
			if err := writeResult(bw, cfg, name, vals, &st); err != nil {
				return st, err
			}
			for j := range c.Classes {
				cl := &c.Classes[j]
				vals = vals[:0]
				for _, f := range Figures {
					if v, ok := f.classValue(cl); ok && f.PerClass() {
						vals = append(vals, benchValue(f, v))
					}
				}
				if err := writeResult(bw, cfg, name+"/class="+nameValue(cl.Name), vals, &st); err != nil {
					return st, err
				}
			}
		}
	}
	return st, nil
}

// benchValue converts a stored value to its benchmark unit; nanoseconds and
// bytes are whole (no 8.245000000000001e+06 from ms × 1e6).
func benchValue(f Figure, v float64) benchfmt.Value {
	in := f.info()
	v *= in.benchScale
	if f != Throughput {
		v = math.Round(v)
	}
	return benchfmt.Value{Value: v, Unit: in.benchUnit}
}

func writeResult(bw *benchfmt.Writer, cfg []benchfmt.Config, name string, vals []benchfmt.Value, st *ExportStats) error {
	if len(vals) == 0 {
		return nil
	}
	res := &benchfmt.Result{Config: cfg, Name: benchfmt.Name(name), Iters: 1, Values: vals}
	if err := bw.Write(res); err != nil {
		return err
	}
	st.Results++
	return nil
}

// nameValue keeps a name part of a benchmark name on one field and one
// sub-benchmark level: blanks and slashes become underscores.
func nameValue(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}
