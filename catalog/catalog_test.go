package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBuiltin(t *testing.T) {
	want := []string{"thread", "eventloop", "offload", "cluster", "goroutine"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	for _, e := range All() {
		if e.Summary == "" {
			t.Errorf("%s has no summary", e.Name)
		}
		if err := e.Available(); err != nil {
			t.Errorf("%s.Available() = %v; a Go model is always available", e.Name, err)
		}
	}
	if _, ok := Lookup("nodejs"); ok {
		t.Errorf(`Lookup("nodejs") found an entry`)
	}
	if e, ok := Lookup("offload"); !ok || e.Kind != GoModel {
		t.Errorf(`Lookup("offload") = %+v, %t; want the Go model`, e, ok)
	}
}

// TestReferenceDropsIn: a reference entry, as the Node.js and Apache servers
// will add them, is listed after the model it stands beside and reports why
// it cannot run.
func TestReferenceDropsIn(t *testing.T) {
	missing := errors.New("node not found on $PATH (install it: apt-get install nodejs)")
	c, err := Builtin().With(
		Entry{Name: "node-loop", Kind: Reference, Beside: "eventloop", Summary: "Node.js, one loop", Check: func() error { return missing }},
		Entry{Name: "mine", Kind: User, Summary: "my server"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(Names()); n != 5 {
		t.Errorf("With changed the built-in catalog: %d names", n)
	}
	e, ok := c.Lookup("node-loop")
	if !ok || e.Beside != "eventloop" || e.Available() != missing {
		t.Errorf(`Lookup("node-loop") = %+v, %t (available: %v); want the reference beside eventloop, unavailable`, e, ok, e.Available())
	}
	if got := c.OfKind(Reference); len(got) != 1 || got[0].Name != "node-loop" {
		t.Errorf("OfKind(Reference) = %+v; want node-loop", got)
	}
	if got := c.Names(); got[len(got)-1] != "mine" {
		t.Errorf("Names() = %v; want the user server last", got)
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

func TestNeedsCommand(t *testing.T) {
	if err := NeedsCommand("sh", "apt-get install dash")(); err != nil {
		t.Errorf("NeedsCommand(sh) = %v; want nil", err)
	}
	err := NeedsCommand("concbench-no-such-program", "apt-get install nothing")()
	if err == nil || !strings.Contains(err.Error(), "apt-get install nothing") || strings.Contains(err.Error(), "\n") {
		t.Errorf("NeedsCommand(missing) = %v; want one line naming the install command", err)
	}
}
