//go:build !race

// The race detector makes allocations of its own, so these only run without
// it.

package httpwire

import "testing"

func TestParseDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"simple GET", simpleGET},
		{"root path", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"Content-Length body", postBody},
		{"Connection: close", closeGET},
		{"absolute-form", "GET http://example.com/cpu?iters=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			buf := []byte(tt.in)
			if _, _, err := p.Parse(buf); err != nil { // warm-up grows the Parser's buffers
				t.Fatalf("Parse(%q) error %v; want nil", tt.in, err)
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if _, _, err := p.Parse(buf); err != nil {
					t.Fatalf("Parse(%q) error %v; want nil", tt.in, err)
				}
			})
			if allocs != 0 {
				t.Errorf("Parse(%q) allocates %v times per call; want 0", tt.in, allocs)
			}
		})
	}
}

func TestParseIncompleteDoesNotAllocate(t *testing.T) {
	var p Parser
	full := []byte(postBody)
	p.Parse(full)
	for _, n := range []int{0, 10, len(full) - 1} {
		buf := full[:n]
		allocs := testing.AllocsPerRun(1000, func() { p.Parse(buf) })
		if allocs != 0 {
			t.Errorf("Parse(%q) allocates %v times per call; want 0", buf, allocs)
		}
	}
}

func TestAppendResponseDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 512)
	body := []byte("ok\n")
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AppendResponse(dst[:0], 503, "text/plain; charset=utf-8", body, true, "Retry-After", "1")
	})
	if allocs != 0 {
		t.Errorf("AppendResponse into a large enough dst allocates %v times per call; want 0", allocs)
	}
}
