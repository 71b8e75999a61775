package runner

import (
	"context"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/reports"
)

// TestRunGenerators: a cell loaded by two generator processes reads like a
// cell loaded by one — the same files, figures and report — its counts are
// its shards' sums, and together they sent the offered schedule.
func TestRunGenerators(t *testing.T) {
	needBinary(t)
	defer checkNoChildren(t)
	const rate = 200
	p := testPlan(t, []string{"goroutine"}, rate)
	p.SLOs = nil
	outcome := map[int]*Outcome{}
	for _, gens := range []int{1, 2} {
		o, err := Run(context.Background(), Options{Plan: p, Binary: binary, OutDir: t.TempDir(), Generators: gens})
		if err != nil {
			t.Fatalf("--generators %d: %v", gens, err)
		}
		checkCell(t, o.Dir, o.Run.Cells[0], false)
		outcome[gens] = o
	}
	one, two := outcome[1].Run.Cells[0], outcome[2].Run.Cells[0]
	if os.Getenv("CONCBENCH_BIN") == "" && filepath.Base(outcome[2].Run.Env.ServerBinary) != launch.ServeBinary {
		t.Errorf("server binary %q; want %s, built beside concbench by TestMain", outcome[2].Run.Env.ServerBinary, launch.ServeBinary)
	}

	if got, want := slices.Sorted(maps.Keys(two.Files)), slices.Sorted(maps.Keys(one.Files)); !slices.Equal(got, want) {
		t.Errorf("files of a 2-generator cell %v; want those of one generator %v", got, want)
	}
	if one.ID != two.ID || len(one.Timeline) != len(two.Timeline) || len(one.Classes) != len(two.Classes) {
		t.Errorf("2-generator cell %s (%d seconds, %d classes); want %s (%d, %d)", two.ID, len(two.Timeline), len(two.Classes), one.ID, len(one.Timeline), len(one.Classes))
	}
	if len(one.Shards) != 0 || len(two.Shards) != 2 {
		t.Errorf("shards listed: %d with one generator, %d with two; want 0 and 2", len(one.Shards), len(two.Shards))
	}
	var sent, missed, warm int64
	bound := false
	for i, s := range two.Shards {
		if s.Index != i || s.Count != 2 || s.OfferedRPS != rate/2 || s.Dir == "" {
			t.Errorf("shard %d: %+v", i, s)
		}
		sent += s.Requests
		missed += s.Missed
		warm += s.Generator.WarmupRequests
		bound = bound || !s.Validity.Valid
	}
	if sent != two.Requests || two.Rate != rate {
		t.Errorf("cell: %d requests at %g req/s; want the shards' %d at %d", two.Requests, two.Rate, sent, rate)
	}

	// Every tick of the schedule, warmup and window, was sent in the warmup,
	// sent in the window or missed, however busy the machine: together the
	// shards offered rate·(warmup+duration), less one per shard at the edges.
	if offered, want := warm+sent+missed, int64(rate*(two.WarmupSec+two.DurationSec)); math.Abs(float64(offered-want)) > 2 {
		t.Errorf("2 generators: %d warmup + %d window requests + %d missed = %d; want the schedule's %d", warm, sent, missed, offered, want)
	}

	// The same report, in form.
	var names [2][]string
	for k, o := range []*Outcome{outcome[1], outcome[2]} {
		rep, err := reports.Build(o.Run)
		if err != nil {
			t.Fatal(err)
		}
		files, err := rep.Write(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			names[k] = append(names[k], f[strings.LastIndexByte(f, '/')+1:])
		}
		slices.Sort(names[k])
	}
	if !slices.Equal(names[0], names[1]) {
		t.Errorf("report files with 2 generators %v; want those with one %v", names[1], names[0])
	}

	if bound || !two.Validity.Valid {
		t.Logf("a shard was generator-bound (busy machine?): schedule not checked: %q", two.Validity.Reasons)
		return
	}
	// rate·duration requests were due in the window; each shard may lose one
	// at the window's edges.
	due := int64(rate * two.DurationSec)
	if math.Abs(float64(two.Requests+missed-due)) > 2 {
		t.Errorf("2 generators sent %d and missed %d requests in the window; want %d due", two.Requests, missed, due)
	}
}
