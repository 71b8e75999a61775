package result

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	in := &Run{Cells: []Cell{{ID: "eventloop.cpu-mix.r500.1", Model: "eventloop", Rate: 500,
		Classes:  []Class{{Name: "plain", Requests: 10, OK: 10, Response: Latency{Count: 10, P99: 1.5}}},
		Validity: Validity{Valid: true}}}}
	if err := Save(dir, in); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, filepath.Join(dir, FileName)} {
		got, err := Load(path)
		if err != nil {
			t.Fatalf("Load(%s): %v", path, err)
		}
		if got.Schema != SchemaVersion || !reflect.DeepEqual(got.Cells, in.Cells) {
			t.Errorf("Load(%s) = %+v; want %+v", path, got.Cells, in.Cells)
		}
	}
	// No temporary file is left beside the results.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries after Save; want only %s", len(entries), FileName)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct{ path, want string }{
		{write("garbage.json", "not json"), "not a concbench results file"},
		{write("v9.json", `{"schema": 9}`), "results schema 9, this concbench reads 1"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		if _, err := Load(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%s) = %v; want error containing %q", tt.path, err, tt.want)
		}
	}
}

// TestInvalidate: a server failure outranks the generator, whichever came
// first, and the cause survives a save and load.
func TestInvalidate(t *testing.T) {
	v := Validity{Valid: true}
	v.Invalidate(CauseGenerator, "Generator-bound: lag.")
	v.Invalidate(CauseServer, "the server exited")
	v.Invalidate(CauseGenerator, "offered above the ceiling")
	if v.Valid || v.Cause != CauseServer || !v.ServerFailed() || len(v.Reasons) != 3 {
		t.Errorf("validity %+v; want invalid, cause server, 3 reasons", v)
	}
	g := Validity{Valid: true}
	g.Invalidate(CauseGenerator, "")
	if g.Cause != CauseGenerator || g.ServerFailed() || len(g.Reasons) != 0 {
		t.Errorf("validity %+v; want invalid, cause generator, no reason", g)
	}
	dir := t.TempDir()
	if err := Save(dir, &Run{Cells: []Cell{{ID: "a", Validity: v}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(b), `"cause": "server"`) {
		t.Errorf("results.json does not record the cause:\n%s", b)
	}
	got, err := Load(dir)
	if err != nil || got.Cells[0].Validity.Cause != CauseServer {
		t.Errorf("Load = %+v, %v; want the cause back", got, err)
	}
}
