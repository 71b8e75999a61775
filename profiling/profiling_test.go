package profiling

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestCaptureErrors: an error status or a body that is not a profile leaves a
// note and no file, partial or whole.
func TestCaptureErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/profile":
			_, _ = w.Write([]byte("not a profile"))
		case "/debug/pprof/trace":
			_, _ = w.Write([]byte("nor a trace"))
		default:
			http.Error(w, "Could not enable CPU profiling: already in use", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	pr := Start(context.Background(), dir, "c", strings.TrimPrefix(srv.URL, "http://"), 0,
		[]Kind{CPU, Heap, Trace}, 0, 100*time.Millisecond)
	files, notes := pr.Wait()
	if len(files) != 0 {
		t.Errorf("files %v; want none", files)
	}
	want := []string{"profiling: cpu profile not captured", "profiling: heap profile not captured: /debug/pprof/heap: 500 Internal Server Error Could not enable", "profiling: trace not captured: not a runtime trace"}
	if len(notes) != len(want) {
		t.Fatalf("notes %q; want %d", notes, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(notes[i], want[i]) {
			t.Errorf("note %d = %q; want it to start %q", i, notes[i], want[i])
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left in the results directory: %v", ents)
	}
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in   string
		want []Kind
		err  string
	}{
		{"", nil, ""},
		{"cpu", []Kind{CPU}, ""},
		{" trace, cpu ,heap", []Kind{CPU, Heap, Trace}, ""},
		{"all", Kinds, ""},
		{"cpu,cpu", nil, `profile "cpu" is listed twice`},
		{"cpu,allocs", nil, `unknown profile "allocs" (one of cpu, heap, goroutine, mutex, block, trace, or all)`},
	}
	for _, tt := range tests {
		got, err := ParseKinds(tt.in)
		errs := ""
		if err != nil {
			errs = err.Error()
		}
		if !slices.Equal(got, tt.want) || errs != tt.err {
			t.Errorf("ParseKinds(%q) = %v, %q; want %v, %q", tt.in, got, errs, tt.want, tt.err)
		}
	}
	if !NeedsRates([]Kind{CPU, Block}) || NeedsRates([]Kind{CPU, Heap}) {
		t.Errorf("NeedsRates: only mutex and block need the server's --profile-rates")
	}
}

func TestNames(t *testing.T) {
	check := func(kind Kind, child int, key, file string) {
		t.Helper()
		if got := FileKind(kind, child); got != key {
			t.Errorf("FileKind(%s, %d) = %q; want %q", kind, child, got, key)
		}
		if got := fileName("m.s.r5.1", kind, child); got != file {
			t.Errorf("fileName(%s, %d) = %q; want %q", kind, child, got, file)
		}
	}
	check(CPU, -1, "profile:cpu", "m.s.r5.1.cpu.pprof")
	check(Trace, -1, "profile:trace", "m.s.r5.1.trace")
	check(Mutex, 0, "profile:child0:mutex", "m.s.r5.1.child0.mutex.pprof")
	check(Trace, 11, "profile:child11:trace", "m.s.r5.1.child11.trace")

	files := map[string]string{"profile:child10:cpu": "c10", "profile:child2:cpu": "c2", "profile:child0:cpu": "c0",
		"profile:child1:heap": "h1", "hgrm:plain": "x"}
	if got := Paths(files, CPU); !slices.Equal(got, []string{"c0", "c2", "c10"}) {
		t.Errorf("Paths(children) = %q; want c0 c2 c10 (child 1's failed)", got)
	}
	if got := Paths(map[string]string{"profile:cpu": "p"}, CPU); !slices.Equal(got, []string{"p"}) {
		t.Errorf("Paths(server) = %q", got)
	}
}

// TestTopFunctions: flat goes to the leaf (the innermost inlined function),
// cumulative once per function per sample, even through recursion.
func TestTopFunctions(t *testing.T) {
	fn := map[string]*profile.Function{}
	for i, n := range []string{"main", "handle", "hash", "block", "recurse"} {
		fn[n] = &profile.Function{ID: uint64(i + 1), Name: n}
	}
	loc := func(id uint64, names ...string) *profile.Location { // innermost first
		l := &profile.Location{ID: id}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn[n]})
		}
		return l
	}
	main, handle := loc(1, "main"), loc(2, "handle")
	block := loc(3, "block", "hash") // block inlined into hash
	rec := loc(4, "recurse")
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{block, handle, main}, Value: []int64{7, 70}},
			{Location: []*profile.Location{handle, main}, Value: []int64{2, 20}},
			{Location: []*profile.Location{rec, rec, main}, Value: []int64{1, 10}},
		},
	}
	flat, cum, total, unit := TopFunctions(p, 3)
	if total != 100 || unit.Type != "cpu" {
		t.Fatalf("total %d %v; want 100 cpu", total, unit)
	}
	wantFlat := []FuncValue{{"block", 70, 70}, {"handle", 20, 90}, {"recurse", 10, 10}}
	wantCum := []FuncValue{{"main", 0, 100}, {"handle", 20, 90}, {"block", 70, 70}}
	if !slices.Equal(flat, wantFlat) || !slices.Equal(cum, wantCum) {
		t.Errorf("TopFunctions = flat %+v, cum %+v; want %+v, %+v", flat, cum, wantFlat, wantCum)
	}
}

func TestShortFunc(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"github.com/concbench/concbench/workloads.(*Hasher).Step", "workloads.(*Hasher).Step"},
		{"crypto/internal/fips140/sha256.blockSHANI", "sha256.blockSHANI"},
		{"github.com/panjf2000/gnet/v2.(*eventloop).orbit.func1", "gnet/v2.(*eventloop).orbit.func1"},
		{"runtime.futex", "runtime.futex"},
		{"sync/atomic.(*Pointer[go.shape.struct { a/b.c int }]).Load", "atomic.(*Pointer[...]).Load"},
		{"slices.SortFunc[go.shape.[]uint8,go.shape.uint8]", "slices.SortFunc[...]"},
		{"0x4a2f10", "0x4a2f10"},
		{strings.Repeat("x", 120), strings.Repeat("x", 99) + "…"},
	} {
		if got := ShortFunc(tt.in); got != tt.want {
			t.Errorf("ShortFunc(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
