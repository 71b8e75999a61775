//go:build !race

package workloads

import (
	"strings"
	"testing"
)

// The race detector allocates on its own, so these run only without it.

func TestHasherStepAllocs(t *testing.T) {
	h := NewHasher(1 << 40)
	if got := testing.AllocsPerRun(100, func() { h.Step(10) }); got != 0 {
		t.Errorf("Hasher.Step allocates %v times per call; want 0", got)
	}
	buf := make([]byte, 0, 65)
	if got := testing.AllocsPerRun(100, func() { buf = h.AppendHex(buf[:0]) }); got != 0 {
		t.Errorf("Hasher.AppendHex into a 65-byte buffer allocates %v times per call; want 0", got)
	}
}

// TestParseAllocs keeps the hot path of every model free of garbage: a valid,
// unescaped request parses without allocating.
func TestParseAllocs(t *testing.T) {
	for _, tt := range parseTests {
		if tt.err != nil || strings.ContainsAny(tt.query, "%+") {
			continue
		}
		if got := testing.AllocsPerRun(100, func() { Parse(tt.method, tt.path, tt.query) }); got != 0 {
			t.Errorf("Parse(%q, %q, %q) allocates %v times per call; want 0", tt.method, tt.path, tt.query, got)
		}
	}
}
