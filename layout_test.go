package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLayout: README's layout tree names every package of the module, so the
// map a newcomer reads is the territory.
func TestLayout(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Layout, and how to extend it")
	if !ok {
		t.Fatal("README has no layout section")
	}
	_, tree, _ := strings.Cut(rest, "```\n")
	tree, _, _ = strings.Cut(tree, "```")
	// The tree's entries, as paths: the indentation says the parent.
	named := map[string]bool{}
	var parents []string
	for _, line := range strings.Split(tree, "\n") {
		i := strings.IndexAny(line, "abcdefghijklmnopqrstuvwxyz")
		if i < 0 {
			continue
		}
		depth := utf8.RuneCountInString(line[:i])/4 - 1 // "├── " is one level
		if depth < 0 {
			continue
		}
		name, _, _ := strings.Cut(line[i:], " ")
		name = strings.TrimSuffix(name, "/")
		parents = append(parents[:min(depth, len(parents))], name)
		named[strings.Join(parents, "/")] = true
	}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "results" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if dir := filepath.Dir(path); dir != "." && !named[filepath.ToSlash(dir)] {
			t.Errorf("package %s is not in README's layout tree", dir)
			named[filepath.ToSlash(dir)] = true // once
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
