package profiling

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind is a profile a run can capture from every cell's server.
type Kind string

// The profile kinds.
const (
	CPU       Kind = "cpu"
	Heap      Kind = "heap"
	Goroutine Kind = "goroutine"
	Mutex     Kind = "mutex"
	Block     Kind = "block"
	Trace     Kind = "trace"
)

// Kinds lists every kind, in the order ParseKinds keeps.
var Kinds = []Kind{CPU, Heap, Goroutine, Mutex, Block, Trace}

// ParseKinds parses a comma-separated list of kinds ("cpu,heap,trace", or
// "all"). An empty list is no profiling.
func ParseKinds(s string) ([]Kind, error) {
	var out []Kind
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case f == "all":
			return slices.Clone(Kinds), nil
		case !slices.Contains(Kinds, Kind(f)):
			names := make([]string, len(Kinds))
			for i, k := range Kinds {
				names[i] = string(k)
			}
			return nil, fmt.Errorf("unknown profile %q (one of %s, or all)", f, strings.Join(names, ", "))
		case slices.Contains(out, Kind(f)):
			return nil, fmt.Errorf("profile %q is listed twice", f)
		}
		out = append(out, Kind(f))
	}
	slices.SortFunc(out, func(a, b Kind) int {
		return slices.Index(Kinds, a) - slices.Index(Kinds, b)
	})
	return out, nil
}

// NeedsRates reports whether kinds include a profile the server records only
// with `serve --profile-rates`.
func NeedsRates(kinds []Kind) bool {
	return slices.Contains(kinds, Mutex) || slices.Contains(kinds, Block)
}

// FileKind is the Cell.Files key of a profile: "profile:cpu", or
// "profile:child1:cpu" for cluster child 1 (child < 0: the server process).
func FileKind(kind Kind, child int) string {
	if child < 0 {
		return "profile:" + string(kind)
	}
	return "profile:child" + strconv.Itoa(child) + ":" + string(kind)
}

// fileName is the file a profile of cell is saved in.
func fileName(cell string, kind Kind, child int) string {
	name := cell
	if child >= 0 {
		name += ".child" + strconv.Itoa(child)
	}
	if kind == Trace {
		return name + ".trace"
	}
	return name + "." + string(kind) + ".pprof"
}
