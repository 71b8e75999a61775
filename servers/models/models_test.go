package models

import (
	"testing"

	"github.com/concbench/concbench/catalog"
)

// TestEveryGoModelHasAConstructor: the catalog and this package list the same
// Go models, so `serve` can start every model a plan may name.
func TestEveryGoModelHasAConstructor(t *testing.T) {
	goModels := map[string]bool{}
	for _, e := range catalog.Builtin().OfKind(catalog.GoModel) {
		goModels[e.Name] = true
		if _, ok := New(e.Name); !ok {
			t.Errorf("catalog Go model %q has no constructor", e.Name)
		}
	}
	for name := range constructors {
		if !goModels[name] {
			t.Errorf("constructor %q has no Go model entry in the catalog", name)
		}
	}
}
