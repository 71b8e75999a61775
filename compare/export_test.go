package compare_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/concbench/concbench/compare"
	"github.com/concbench/concbench/result"
)

// record is a benchmark line as benchfmt reads it, copied out of the Reader.
type record struct {
	config string // "key=value ..." in file order
	name   string
	iters  int
	values string // "value unit ..." as written (untidied)
}

func readBench(t *testing.T, b []byte) (recs []record, units map[string]string) {
	t.Helper()
	units = map[string]string{}
	r := benchfmt.NewReader(bytes.NewReader(b), "export.txt")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt: %v", rec)
		case *benchfmt.UnitMetadata:
			units[rec.OrigUnit+" "+rec.Key] = rec.Value
		case *benchfmt.Result:
			var cfg, vals []string
			for _, c := range rec.Config {
				cfg = append(cfg, c.Key+"="+string(c.Value))
			}
			for _, v := range rec.Values {
				val, unit := v.Value, v.Unit
				if v.OrigUnit != "" {
					val, unit = v.OrigValue, v.OrigUnit
				}
				vals = append(vals, fmt.Sprint(val, " ", unit))
			}
			recs = append(recs, record{strings.Join(cfg, " "), rec.Name.String(), rec.Iters, strings.Join(vals, " ")})
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return recs, units
}

// TestWriteBenchRoundTrip checks that benchfmt.Reader reads back exactly what
// WriteBench wrote: every cell repetition's figures, names, configuration and
// unit metadata; and that benchfmt.Writer writes the read records back byte
// for byte.
func TestWriteBenchRoundTrip(t *testing.T) {
	r1 := synth{seed: 20, reps: 2, commit: "aaaa"}.run()
	r2 := synth{seed: 21, reps: 1, commit: "bbbb", invalid: map[string]bool{"goroutine.cpu-mix.r500.1": true}}.run()
	var b bytes.Buffer
	st, err := compare.WriteBench(&b, []*result.Run{r1, r2})
	if err != nil {
		t.Fatal(err)
	}

	// What should be there, built from the runs directly.
	var want []record
	for _, r := range []*result.Run{r1, r2} {
		cfg := "goos=linux goarch=amd64 cpu=Synthetic CPU @ 3.00GHz commit=" + r.Env.Commit + " plan=synthetic"
		for _, c := range r.Cells {
			if !c.Validity.Valid {
				continue
			}
			name := fmt.Sprintf("Serve/model=%s/scenario=%s/rate=%g", c.Model, c.Scenario, c.Rate)
			want = append(want, record{cfg, name, 1, fmt.Sprint(c.AchievedRPS, " req/s ",
				float64(c.Resources.PeakRSSBytes), " rss-B ", math.Round(c.Resources.CPUPer1kReqMs*1e3), " cpu-ns/req")})
			for _, cl := range c.Classes {
				want = append(want, record{cfg, name + "/class=" + cl.Name, 1, fmt.Sprint(math.Round(cl.Response.P50*1e6), " p50-ns ",
					math.Round(cl.Response.P99*1e6), " p99-ns ", math.Round(cl.Response.P999*1e6), " p99.9-ns")})
			}
		}
	}
	got, units := readBench(t, b.Bytes())
	if len(got) != len(want) || st.Results != len(want) {
		t.Fatalf("read %d results, WriteBench said %d; want %d", len(got), st.Results, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if fmt.Sprint(st.Dropped) != "[goroutine.cpu-mix.r500.1]" {
		t.Errorf("Dropped = %v, want [goroutine.cpu-mix.r500.1]", st.Dropped)
	}
	wantUnits := map[string]string{"req/s better": "higher", "p50-ns better": "lower", "p99-ns better": "lower",
		"p99.9-ns better": "lower", "rss-B better": "lower", "cpu-ns/req better": "lower"}
	if fmt.Sprint(units) != fmt.Sprint(wantUnits) {
		t.Errorf("unit metadata = %v, want %v", units, wantUnits)
	}

	// Reading and writing again reproduces the bytes.
	var again bytes.Buffer
	w := benchfmt.NewWriter(&again)
	rd := benchfmt.NewReader(bytes.NewReader(b.Bytes()), "export.txt")
	for rd.Scan() {
		if err := w.Write(rd.Result()); err != nil {
			t.Fatal(err)
		}
	}
	if again.String() != b.String() {
		t.Errorf("benchfmt.Writer(benchfmt.Reader(export)) differs from export:\n%s\nvs\n%s", again.String(), b.String())
	}
}

func TestWriteBenchGolden(t *testing.T) {
	r := synth{seed: 22, reps: 1, commit: "0123456789abcdef", models: []string{"eventloop"}}.run()
	var b bytes.Buffer
	if _, err := compare.WriteBench(&b, []*result.Run{r}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "export.golden", b.String())
}

// TestBenchstatReadsExport runs the stock benchstat (golang.org/x/perf at the
// version this module requires) on two exports with a 20 % p99 regression,
// and checks that it finds the same change as compare.
func TestBenchstatReadsExport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds benchstat")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	// The x/perf version this module requires (test binaries carry no dependency build info).
	v, err := exec.Command(goBin, "list", "-m", "-f", "{{.Version}}", "golang.org/x/perf").Output()
	version := strings.TrimSpace(string(v))
	if err != nil || version == "" {
		t.Skipf("go list -m golang.org/x/perf: %v", err)
	}

	dir := t.TempDir()
	oldRun := synth{seed: 1, reps: 6, commit: "aaaa"}
	newRun := synth{seed: 2, reps: 6, commit: "bbbb", factor: slower("eventloop", 1000, "cheap", compare.P99, 1.20)}
	files := map[string]*result.Run{"old.txt": oldRun.run(), "new.txt": newRun.run()}
	for name, r := range files {
		var b bytes.Buffer
		if _, err := compare.WriteBench(&b, []*result.Run{r}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "run", "golang.org/x/perf/cmd/benchstat@"+version, "-ignore", "commit", "-filter", ".unit:p99-ns", "old.txt", "new.txt")
	cmd.Dir = dir
	// Outside this module: go run pkg@version resolves x/perf's own go.mod.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOFLAGS=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run benchstat (offline, or no module cache?): %v\n%s", err, out)
	}
	t.Logf("benchstat output:\n%s", out)

	// compare's verdict on the same data, written as results.json.
	oldDir, newDir := oldRun.save(t, dir, "old"), newRun.save(t, dir, "new")
	var rep bytes.Buffer
	_ = compare.Run(&rep, compare.Config{Old: []string{oldDir}, New: []string{newDir}})
	want := regexp.MustCompile(`(?m)^ *1000/s +cheap .* ([+-][0-9.]+%)  (p=[0-9.]+ n=6)`).FindStringSubmatch(rep.String())
	if want == nil {
		t.Fatalf("no p99 row for eventloop 1000/s cheap in:\n%s", rep.String())
	}
	// benchstat: "Serve/model=eventloop/scenario=cpu-mix/rate=1000/class=cheap   3.9m ± 3%   4.8m ± 5%  +20.12% (p=0.002 n=6)"
	line := regexp.MustCompile(`(?m)^Serve/model=eventloop/scenario=cpu-mix/rate=1000/class=cheap .*$`).Find(out)
	if line == nil || !bytes.Contains(line, []byte(want[1]+" ("+want[2]+")")) {
		t.Errorf("benchstat's eventloop 1000/s cheap p99 row = %q; want the change compare found, %s (%s)", line, want[1], want[2])
	}
}
