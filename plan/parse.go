package plan

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads a plan from YAML or JSON (JSON when the first non-blank byte is
// '{'), strictly: an unknown field is an error. name labels error messages
// ("plan NAME: ...") and becomes the plan's name when the file sets none. The
// plan is validated and returned with every default filled in (see Normalize).
// Every error is one line naming the field.
func Parse(data []byte, name string) (Plan, error) {
	var p Plan
	if err := decode(data, &p); err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", name, err)
	}
	if p.Name == "" {
		p.Name = defaultName(name)
	}
	if err := p.Normalize(); err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", name, err)
	}
	return p, nil
}

// Load reads and parses the plan file at path.
func Load(path string) (Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", path, unwrapPathError(err))
	}
	return Parse(b, path)
}

//go:embed builtin/*.yaml
var builtinFS embed.FS

// DefaultBuiltin is the plan `concbench run` runs when given none.
const DefaultBuiltin = "quick"

// Builtin returns an embedded plan by name (see BuiltinNames).
func Builtin(name string) (Plan, error) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil || !validName.MatchString(name) {
		return Plan{}, fmt.Errorf("plan %s: no built-in plan of that name (one of %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return Parse(b, name)
}

// BuiltinSource returns the YAML text of an embedded plan, e.g. to print it as
// a starting point for a plan file.
func BuiltinSource(name string) ([]byte, bool) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	return b, err == nil
}

// BuiltinNames lists the embedded plans, sorted.
func BuiltinNames() []string {
	ents, _ := builtinFS.ReadDir("builtin") // embedded: cannot fail
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Resolve finds a plan by file path or built-in name: an existing file wins,
// then a built-in plan; an empty ref is DefaultBuiltin.
func Resolve(ref string) (Plan, error) {
	if ref == "" {
		return Builtin(DefaultBuiltin)
	}
	if _, err := os.Stat(ref); err == nil {
		return Load(ref)
	}
	if _, ok := BuiltinSource(ref); ok {
		return Builtin(ref)
	}
	if strings.ContainsAny(ref, "/.") {
		return Load(ref) // reports the missing file
	}
	return Plan{}, fmt.Errorf("plan %s: no such file or built-in plan (built-in: %s)", ref, strings.Join(BuiltinNames(), ", "))
}

func decode(data []byte, p *Plan) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errors.New("empty plan")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			return jsonError(data, err)
		}
		if dec.More() {
			return fmt.Errorf("line %d: data after the plan's closing brace", lineAt(data, dec.InputOffset()))
		}
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty plan")
		}
		return yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document (remove the second '---')")
	}
	return nil
}

var yamlUnknown = regexp.MustCompile(`^(line \d+): field (\S+) not found in type \S+$`)

// yamlError makes yaml.v3's (possibly multi-line) error one line: the first
// problem, with "unknown field" in place of Go type names.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if m := yamlUnknown.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("%s: unknown field %q", m[1], m[2])
		}
		msg = strings.ReplaceAll(msg, "!!", "")
		if n := len(te.Errors) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		return errors.New(msg)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("line %d: %v", lineAt(data, se.Offset), se)
	case errors.As(err, &te):
		return fmt.Errorf("line %d: %s: want %s, got JSON %s", lineAt(data, te.Offset), jsonField(te.Field), te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of JSON")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// jsonField turns encoding/json's "scenarios.mix.weight" into the field path.
func jsonField(f string) string {
	if f == "" {
		return "value"
	}
	return f
}

func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// defaultName derives a plan name from a file name: "plans/ci-ab.yaml" → "ci-ab".
func defaultName(ref string) string {
	base := filepath.Base(ref)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "plan"
	}
	return s
}
