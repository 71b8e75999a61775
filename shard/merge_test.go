package shard

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/plan"
	"github.com/concbench/concbench/result"
)

// attackShards runs n shards of one cell against url at once and returns
// their results directories.
func attackShards(t *testing.T, url string, rate float64, n int) []Input {
	t.Helper()
	mix := []plan.Class{{Name: "a", Target: "/a", Weight: 3}, {Name: "b", Target: "/b", Weight: 1}}
	planned := time.Now().Add(100 * time.Millisecond)
	in := make([]Input, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sh := loadgen.Shard{Index: i, Count: n}
			dir := filepath.Join(t.TempDir(), fmt.Sprint("s", i))
			cfg := loadgen.Config{BaseURL: url, Mix: mix, Rate: rate, Warmup: 200 * time.Millisecond, Duration: time.Second,
				MaxConnections: 8, Seed: int64(i + 1), OutDir: dir, CellID: "c"}
			if err := sh.Apply(&cfg); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Until(planned))
			res, err := loadgen.Attack(context.Background(), cfg)
			if err != nil {
				t.Errorf("shard %d: %v", i, err)
				return
			}
			c := Cell("c", sh, cfg, res, planned, ReadClock())
			run := &result.Run{Cells: []result.Cell{c}}
			if err := result.Save(dir, run); err != nil {
				t.Error(err)
			}
			in[i] = Input{Dir: dir, Run: run}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return in
}

func decode(t *testing.T, l result.Latency) *hdr.Histogram {
	t.Helper()
	h, err := hdr.Decode([]byte(l.HDR))
	if err != nil {
		t.Fatalf("decode %q: %v", l.HDR, err)
	}
	return h
}

// TestMergeIsHDRSum: the merged histograms are the bucket-by-bucket sum of
// the shards', the counts their sums, and two shards together send the whole
// schedule.
func TestMergeIsHDRSum(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	const rate = 400
	in := attackShards(t, srv.URL, rate, 2)
	// Merge reads what was saved, as concbench merge does.
	var dirs []string
	for _, s := range in {
		dirs = append(dirs, s.Dir)
	}
	loaded, err := Load(dirs)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run, err := Merge(loaded, out)
	if err != nil {
		t.Fatal(err)
	}
	m := run.Cells[0]
	var reqs, missed, warm int64
	bound := false
	for _, s := range in {
		c := s.Run.Cells[0]
		reqs += c.Requests
		missed += c.Shards[0].Missed
		warm += c.Shards[0].Generator.WarmupRequests
		bound = bound || !c.Validity.Valid
	}
	if m.Requests != reqs || m.Rate != rate {
		t.Errorf("merged: %d requests at %g req/s; want the shards' sum %d at %d", m.Requests, m.Rate, reqs, rate)
	}
	for j, mc := range m.Classes {
		for _, kind := range []struct {
			name string
			get  func(result.Class) result.Latency
		}{{"response", func(c result.Class) result.Latency { return c.Response }}, {"service", func(c result.Class) result.Latency { return c.Service }}} {
			sum := loadgen.NewHistogram()
			var n int64
			for _, s := range in {
				cl := s.Run.Cells[0].Classes[j]
				sum.Merge(decode(t, kind.get(cl)))
				n += cl.Requests
			}
			got := decode(t, kind.get(mc))
			if !got.Equals(sum) {
				t.Errorf("class %s %s: merged histogram differs from the sum of the shards'", mc.Name, kind.name)
			}
			if got.TotalCount() != n || mc.Requests != n {
				t.Errorf("class %s %s: %d values, %d requests; want %d", mc.Name, kind.name, got.TotalCount(), mc.Requests, n)
			}
			if want := loadgen.Summary(sum); kind.get(mc) != want {
				t.Errorf("class %s %s: summary %+v; want %+v", mc.Name, kind.name, kind.get(mc), want)
			}
		}
	}
	var tl int64
	for _, s := range m.Timeline {
		tl += s.Requests
	}
	if tl != m.Requests {
		t.Errorf("merged timeline holds %d requests; want %d", tl, m.Requests)
	}
	for _, k := range []string{"hgrm:a", "hgrm-service:b", "hlog:a", "hlog:b"} {
		if m.Files[k] == "" {
			t.Errorf("merged files lack %s: %v", k, m.Files)
		}
	}
	// The merged interval log of a class holds every request of it.
	if ints, err := readLogs([]Input{{Dir: out}}, []result.Cell{{Files: m.Files, Shards: []result.Shard{{Count: 1}}}}, []int{0}, "a"); err != nil {
		t.Error(err)
	} else {
		var n int64
		for _, h := range ints {
			n += h.TotalCount()
		}
		if n != m.Classes[0].Requests {
			t.Errorf("merged hlog of class a holds %d values; want %d", n, m.Classes[0].Requests)
		}
	}
	// Every tick of the whole schedule (warmup 0.2 s, window 1 s) was sent
	// in the warmup, in the window, or missed, however busy the machine.
	if offered, want := warm+reqs+missed, int64(rate*1.2); math.Abs(float64(offered-want)) > float64(len(in)) {
		t.Errorf("shards: %d warmup + %d window + %d missed = %d requests; want the schedule's %d", warm, reqs, missed, offered, want)
	}
	if bound {
		t.Logf("a shard was generator-bound (busy machine?): schedule not checked: %v", m.Validity.Reasons)
		return
	}
	// Together the shards sent the whole schedule: rate·duration, one
	// request of slack per shard at the window's edges.
	if due := int64(rate); math.Abs(float64(m.Requests+missed-due)) > float64(len(in)) {
		t.Errorf("shards sent %d and missed %d of the %d requests due", m.Requests, missed, due)
	}
}

// TestMergeValidity: a generator-bound shard makes the merged cell invalid
// and is named; shards that started too far apart too; an incomplete set is
// refused.
func TestMergeValidity(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	cell := func(i, n int, start time.Duration, v result.Validity) Input {
		c := result.Cell{ID: "x", Scenario: "s", Rate: 50, Validity: v, Classes: []result.Class{{Name: "a", Target: "/a"}},
			Shards: []result.Shard{{Index: i, Count: n, Host: fmt.Sprint("h", i), Start: t0.Add(start), Validity: v,
				Clock: result.Clock{Source: "test", Synchronized: true}}}}
		return Input{Dir: fmt.Sprint("d", i), Run: &result.Run{Cells: []result.Cell{c}}}
	}
	ok := result.Validity{Valid: true}
	bad := result.Validity{Cause: result.CauseGenerator, Reasons: []string{"Generator-bound: lag."}}
	for _, tt := range []struct {
		name    string
		in      []Input
		valid   bool
		wantErr string
		reason  string
	}{
		{"all valid", []Input{cell(0, 2, 0, ok), cell(1, 2, time.Millisecond, ok)}, true, "", ""},
		{"one bound", []Input{cell(1, 2, 0, bad), cell(0, 2, 0, ok)}, false, "", "shard 1/2 (host h1) was generator-bound"},
		{"spread", []Input{cell(0, 2, 0, ok), cell(1, 2, 50*time.Millisecond, ok)}, false, "", "started 50ms apart"},
		{"missing", []Input{cell(0, 3, 0, ok), cell(1, 3, 0, ok)}, false, "every shard", ""},
		{"twice", []Input{cell(0, 2, 0, ok), cell(0, 2, 0, ok)}, false, "once each", ""},
	} {
		run, err := Merge(tt.in, t.TempDir())
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: Merge error %v; want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Merge: %v", tt.name, err)
			continue
		}
		v := run.Cells[0].Validity
		if v.Valid != tt.valid || (tt.reason != "" && !strings.Contains(strings.Join(v.Reasons, "\n"), tt.reason)) {
			t.Errorf("%s: merged validity %+v; want valid=%t with %q", tt.name, v, tt.valid, tt.reason)
		}
	}
}

// TestEmitCollect: a results directory survives the trip through one log
// line, among other log lines and behind kubectl's --prefix.
func TestEmitCollect(t *testing.T) {
	dir := t.TempDir()
	run := &result.Run{Cells: []result.Cell{{ID: "cell.1", Shards: []result.Shard{{Index: 1, Count: 2}}}}}
	if err := result.Save(dir, run); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	log.WriteString("some other output\n[pod/job-1-abc/attack] ")
	if err := Emit(&log, dir, run.Cells[0].Shards[0]); err != nil {
		t.Fatal(err)
	}
	log.WriteString("trailing line\n")
	dirs, err := Collect(&log, t.TempDir())
	if err != nil || len(dirs) != 1 {
		t.Fatalf("Collect = %v, %v; want one directory", dirs, err)
	}
	got, err := result.Load(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Cells[0].ID != "cell.1" || got.Cells[0].Shards[0].Index != 1 {
		t.Errorf("collected %+v; want cell.1 shard 1", got.Cells[0])
	}
	if !strings.HasSuffix(dirs[0], "cell.1.shard1of2") {
		t.Errorf("collected into %s; want …/cell.1.shard1of2", dirs[0])
	}
}
