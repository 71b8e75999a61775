// Package catalog lists the servers concbench can run, by name: the Go
// concurrency models, real systems run beside them for reference, and a user's
// own servers. It holds names, summaries and kinds only, no constructors, so
// that every layer (plan, runner, reports, cli) can read it without linking
// the servers; `concbench serve` finds a Go model's constructor by catalog
// name in servers/models.
package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says what runs behind a catalog name.
type Kind int

const (
	// GoModel is a concurrency model written in Go (servers/<name>), started
	// as `concbench serve --model NAME`.
	GoModel Kind = iota
	// Reference is a real system (Node.js, Apache httpd) run beside the Go
	// model named by Entry.Beside, to check that the model behaves like it.
	Reference
	// User is a user's own server, declared in a plan and started by its command.
	User
)

func (k Kind) String() string {
	switch k {
	case GoModel:
		return "go model"
	case Reference:
		return "reference"
	case User:
		return "user server"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Entry is one server of the catalog.
type Entry struct {
	// Name is what plans, flags and results call it: lower case letters,
	// digits and '-'.
	Name string
	// Summary is one line saying how it serves, shown by `concbench models`.
	Summary string
	Kind    Kind
	// Beside names the Go model a Reference stands next to (node-loop beside
	// eventloop); empty for the other kinds.
	Beside string
}

// Catalog is an ordered list of entries with unique names. It is immutable,
// so safe for concurrent use.
type Catalog struct {
	entries []Entry
}

// New returns the catalog of entries, in that order. It checks that names are
// valid and unique, and that a Reference stands beside a GoModel listed before it.
func New(entries ...Entry) (*Catalog, error) {
	c := &Catalog{}
	return c.With(entries...)
}

// With returns c followed by more (e.g. the user servers of a plan), checked
// as New checks them; c is unchanged.
func (c *Catalog) With(more ...Entry) (*Catalog, error) {
	out := &Catalog{entries: append(append([]Entry(nil), c.entries...), more...)}
	seen := map[string]Entry{}
	for i, e := range out.entries {
		if err := checkName(e.Name); err != nil {
			return nil, fmt.Errorf("catalog entry %d: %w", i, err)
		}
		if _, dup := seen[e.Name]; dup {
			return nil, fmt.Errorf("catalog: %q is listed twice", e.Name)
		}
		switch e.Kind {
		case GoModel, User:
			if e.Beside != "" {
				return nil, fmt.Errorf("catalog: %s %q stands beside %q; only a reference does", e.Kind, e.Name, e.Beside)
			}
		case Reference:
			if b, ok := seen[e.Beside]; !ok || b.Kind != GoModel {
				return nil, fmt.Errorf("catalog: reference %q stands beside %q, which is not a Go model listed before it", e.Name, e.Beside)
			}
		default:
			return nil, fmt.Errorf("catalog: %q has unknown kind %d", e.Name, int(e.Kind))
		}
		seen[e.Name] = e
	}
	return out, nil
}

func checkName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("name %q must be 1-32 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("name %q may hold only a-z, 0-9 and '-'", name)
		}
	}
	if strings.HasPrefix(name, "-") {
		return errors.New("name " + name + " must not start with '-'")
	}
	return nil
}

// All returns every entry, in the order reports show them.
func (c *Catalog) All() []Entry { return append([]Entry(nil), c.entries...) }

// Names returns the entry names, in order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.entries))
	for i, e := range c.entries {
		names[i] = e.Name
	}
	return names
}

// Lookup finds an entry by name.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	for _, e := range c.entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// NamesOf returns the names of the entries of kind k, in order.
func (c *Catalog) NamesOf(k Kind) []string {
	var names []string
	for _, e := range c.OfKind(k) {
		names = append(names, e.Name)
	}
	return names
}

// OfKind returns the entries of kind k, in order.
func (c *Catalog) OfKind(k Kind) []Entry {
	var out []Entry
	for _, e := range c.entries {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}
