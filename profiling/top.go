package profiling

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// FuncValue is one function's share of a profile: Flat is what was sampled in
// the function itself, Cum in it and everything it called.
type FuncValue struct {
	Name      string
	Flat, Cum int64
}

// TopFunctions returns the n functions of p with the largest flat and the n
// with the largest cumulative values of one sample type (CPU time for a CPU
// profile, in its unit: see ValueType), like `go tool pprof -top` and
// `-top -cum`, and the profile's total. Inlined calls count as the functions
// they came from.
func TopFunctions(p *profile.Profile, n int) (byFlat, byCum []FuncValue, total int64, unit *profile.ValueType) {
	idx := len(p.SampleType) - 1 // pprof's default: the last type
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, nil, 0, nil
	}
	funcs := map[string]*FuncValue{}
	get := func(name string) *FuncValue {
		f := funcs[name]
		if f == nil {
			f = &FuncValue{Name: name}
			funcs[name] = f
		}
		return f
	}
	seen := map[string]bool{}
	for _, s := range p.Sample {
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		total += v
		clear(seen)
		for li, loc := range s.Location {
			names := locationNames(loc)
			for j, name := range names {
				if li == 0 && j == 0 {
					get(name).Flat += v
				}
				if !seen[name] {
					seen[name] = true
					get(name).Cum += v
				}
			}
		}
	}
	all := make([]FuncValue, 0, len(funcs))
	for _, f := range funcs {
		all = append(all, *f)
	}
	pick := func(key func(FuncValue) int64) []FuncValue {
		xs := slices.Clone(all)
		slices.SortFunc(xs, func(a, b FuncValue) int {
			if ka, kb := key(a), key(b); ka != kb {
				if ka > kb {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		var out []FuncValue
		for _, x := range xs {
			if len(out) == n || key(x) == 0 {
				break
			}
			out = append(out, x)
		}
		return out
	}
	byFlat = pick(func(f FuncValue) int64 { return f.Flat })
	byCum = pick(func(f FuncValue) int64 { return f.Cum })
	return byFlat, byCum, total, p.SampleType[idx]
}

// locationNames returns the functions of a location, innermost (inlined
// callee) first, or its address when it has no symbols.
func locationNames(loc *profile.Location) []string {
	if len(loc.Line) == 0 {
		return []string{fmt.Sprintf("0x%x", loc.Address)}
	}
	out := make([]string, 0, len(loc.Line))
	for _, l := range loc.Line {
		if l.Function != nil {
			out = append(out, l.Function.Name)
		}
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("0x%x", loc.Address))
	}
	return out
}

var (
	shapeArgs  = regexp.MustCompile(`\[[^\[\]]*\]`)
	majorVerEl = regexp.MustCompile(`^v[0-9]+$`)
)

// ShortFunc trims a function name for a table: the package's import path to
// its last element (and the one before a /vN), type arguments to [...], and
// the whole to 100 characters. "github.com/concbench/concbench/workloads.(*Hasher).Step"
// becomes "workloads.(*Hasher).Step".
func ShortFunc(name string) string {
	for { // innermost brackets first: generic shapes nest
		n := shapeArgs.ReplaceAllString(name, "\x00")
		if n == name {
			break
		}
		name = n
	}
	name = strings.ReplaceAll(name, "\x00", "[...]")
	// The import path ends at the last '/' before the first '(' or '['.
	head := name
	if i := strings.IndexAny(head, "(["); i >= 0 {
		head = head[:i]
	}
	if i := strings.LastIndexByte(head, '/'); i >= 0 {
		cut := i
		pkg, _, _ := strings.Cut(name[i+1:], ".")
		if majorVerEl.MatchString(pkg) {
			if j := strings.LastIndexByte(head[:i], '/'); j >= 0 {
				cut = j
			} else {
				cut = -1
			}
		}
		name = name[cut+1:]
	}
	if r := []rune(name); len(r) > 100 {
		name = string(r[:99]) + "…"
	}
	return name
}
