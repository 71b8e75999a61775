package httpwire

import (
	"strings"
	"testing"
)

// FuzzParse checks, for a default and a tightly limited Parser, that Parse
// never panics and that its answer is self-consistent: a success uses
// between 1 and len(buf) bytes, is exactly as long as it has to be, and is
// parsed the same from those bytes alone; an error is an *Error with one of
// the documented statuses.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in))
	}
	f.Add(pipelineBytes())
	for _, r := range pipeline {
		f.Add([]byte(r.in))
	}

	f.Fuzz(func(t *testing.T, buf []byte) {
		checkParse(t, &Parser{}, buf)
		checkParse(t, &Parser{MaxHeaderBytes: 64, MaxBodyBytes: 16}, buf)
	})
}

func checkParse(t *testing.T, p *Parser, buf []byte) {
	in := string(buf)
	got := parse(p, buf)
	if string(buf) != in {
		t.Fatalf("Parse(%q) modified its input to %q", in, buf)
	}
	switch got.Status {
	case incomplete:
		if got.N != 0 {
			t.Fatalf("Parse(%q) = %+v; want n == 0 with ErrIncomplete", buf, got)
		}
		return
	case 0:
		// Checked below.
	case 400, 413, 431, 501, 505:
		if got.N != 0 || got.Msg == "" || strings.ContainsAny(got.Msg, "\r\n") {
			t.Fatalf("Parse(%q) = %+v; want n == 0 and a one-line Msg", buf, got)
		}
		return
	default:
		t.Fatalf("Parse(%q) = %+v; want Status in {400, 413, 431, 501, 505}", buf, got)
	}

	if got.N < 1 || got.N > len(buf) {
		t.Fatalf("Parse(%q) = %+v; want n in [1, %d]", buf, got, len(buf))
	}
	// The request must not depend on anything after it: same answer from
	// its own bytes, on the same Parser and on a fresh one.
	if again := parse(p, buf[:got.N]); again != got {
		t.Fatalf("Parse(%q) = %+v; Parse of its first n bytes %q = %+v", buf, got, buf[:got.N], again)
	}
	fresh := &Parser{MaxHeaderBytes: p.MaxHeaderBytes, MaxBodyBytes: p.MaxBodyBytes}
	if again := parse(fresh, buf[:got.N]); again != got {
		t.Fatalf("Parse(%q) = %+v; fresh Parser on its first n bytes %q = %+v", buf, got, buf[:got.N], again)
	}
	// And n must be as small as possible: one byte less is not a request.
	if short := parse(p, buf[:got.N-1]); short != waitMore {
		t.Fatalf("Parse(%q) = %+v; Parse of its first n-1 bytes %q = %+v; want %+v", buf, got, buf[:got.N-1], short, waitMore)
	}
}
