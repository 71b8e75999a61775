package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestBuiltin(t *testing.T) {
	want := []string{"thread", "apache-worker", "eventloop", "node-loop", "offload", "node-pool", "cluster", "node-cluster", "goroutine"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	for _, e := range All() {
		if e.Summary == "" {
			t.Errorf("%s has no summary", e.Name)
		}
		if (e.Kind == Reference) != (e.Beside != "") {
			t.Errorf("%s: kind %s beside %q", e.Name, e.Kind, e.Beside)
		}
	}
	if _, ok := Lookup("nodejs"); ok {
		t.Errorf(`Lookup("nodejs") found an entry`)
	}
	if e, ok := Lookup("offload"); !ok || e.Kind != GoModel {
		t.Errorf(`Lookup("offload") = %+v, %t; want the Go model`, e, ok)
	}
}

// TestWith: a plan's user servers join the built-in catalog without changing it.
func TestWith(t *testing.T) {
	c, err := Builtin().With(Entry{Name: "mine", Kind: User, Summary: "my server"})
	if err != nil {
		t.Fatal(err)
	}
	if n, m := len(Names()), len(c.Names()); m != n+1 {
		t.Errorf("With: %d names, built-in %d; want one more", m, n)
	}
	if got := c.Names(); got[len(got)-1] != "mine" {
		t.Errorf("Names() = %v; want the user server last", got)
	}
	if got := c.NamesOf(Reference); !slices.Equal(got, []string{"apache-worker", "node-loop", "node-pool", "node-cluster"}) {
		t.Errorf("NamesOf(Reference) = %v", got)
	}
	if _, err := Builtin().With(Entry{Name: "node-loop", Kind: User}); err == nil {
		t.Errorf("With(a built-in name) = nil; want an error")
	}
}

func TestNewRejects(t *testing.T) {
	model := Entry{Name: "eventloop", Kind: GoModel}
	for _, tc := range []struct {
		entries []Entry
		want    string
	}{
		{[]Entry{{Name: ""}}, "must be 1-32 characters"},
		{[]Entry{{Name: "Node"}}, "may hold only"},
		{[]Entry{{Name: "-x"}}, "must not start with '-'"},
		{[]Entry{model, model}, `"eventloop" is listed twice`},
		{[]Entry{{Name: "node-loop", Kind: Reference, Beside: "eventloop"}, model}, "not a Go model listed before it"},
		{[]Entry{model, {Name: "mine", Kind: User}, {Name: "r", Kind: Reference, Beside: "mine"}}, "not a Go model"},
		{[]Entry{{Name: "x", Kind: GoModel, Beside: "eventloop"}}, "only a reference does"},
		{[]Entry{{Name: "x", Kind: Kind(9)}}, "unknown kind"},
	} {
		if _, err := New(tc.entries...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want an error containing %q", tc.entries, err, tc.want)
		}
	}
}
