package profiling

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// Read parses a pprof profile file (gzipped or not).
func Read(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return p, nil
}

// ReadMerged parses pprof profile files and merges them, e.g. a cluster's
// children's CPU profiles.
func ReadMerged(paths ...string) (*profile.Profile, error) {
	if len(paths) == 0 {
		return nil, errors.New("no profile")
	}
	ps := make([]*profile.Profile, 0, len(paths))
	for _, p := range paths {
		pp, err := Read(p)
		if err != nil {
			return nil, err
		}
		ps = append(ps, pp)
	}
	if len(ps) == 1 {
		return ps[0], nil
	}
	return profile.Merge(ps)
}

// Paths returns the files of a cell's profiles of kind, relative to the
// results directory: the server's, or each cluster child's in child order.
func Paths(files map[string]string, kind Kind) []string {
	if f, ok := files[FileKind(kind, -1)]; ok {
		return []string{f}
	}
	type childFile struct {
		child int
		path  string
	}
	var cs []childFile
	for k, f := range files {
		rest, ok := strings.CutPrefix(k, "profile:child")
		if !ok {
			continue
		}
		idx, kk, ok := strings.Cut(rest, ":")
		i, err := strconv.Atoi(idx)
		if ok && err == nil && kk == string(kind) {
			cs = append(cs, childFile{i, f})
		}
	}
	slices.SortFunc(cs, func(a, b childFile) int { return a.child - b.child })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.path
	}
	return out
}
