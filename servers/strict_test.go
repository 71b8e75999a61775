package servers

import (
	"errors"
	"testing"

	"github.com/concbench/concbench/servers/httpwire"
)

// scanAll feeds in to a fresh strictConn in pieces of size step and returns
// where it refused (-1: never) and why.
func scanAll(in string, step int) (int, error) {
	at, err, _ := scanOff(in, step)
	return at, err
}

// scanOff is scanAll that also says whether the checks ended on the way.
func scanOff(in string, step int) (int, error, bool) {
	c := &strictConn{start: true}
	for i := 0; i < len(in); i += step {
		piece := []byte(in[i:min(i+step, len(in))])
		if j, err := c.scan(piece); err != nil {
			return i + j, err, c.off
		}
	}
	return -1, nil, c.off
}

func TestStrictScan(t *testing.T) {
	get := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := []struct {
		name string
		in   string
		at   int // -1: accepted
		err  error
	}{
		{"one request", get, -1, nil},
		{"pipelined", get + get, -1, nil},
		{"leading empty lines", "\r\n\n" + get, -1, nil},
		{"body skipped, bare LF and folds inside", "POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\n\n \tx\ny" + get, -1, nil},
		{"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 14, errStrictBareLF},
		{"bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 23, errStrictBareLF},
		{"bare LF ends the block", "GET / HTTP/1.1\r\nHost: a\r\n\n", 25, errStrictBareLF},
		{"folded with SP", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 22, errStrictFolded},
		{"folded with HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 22, errStrictFolded},
		{"second request folded", get + "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", len(get) + 22, errStrictFolded},
		{"after the body", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\nX: a\r\n\r\n", 54, errStrictBareLF},
		// The stack frames these itself: the checks end.
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\n0\n\n", -1, nil},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n\n", -1, nil},
		{"two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n\n\n", -1, nil},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 3, len(tt.in)} {
			at, err := scanAll(tt.in, step)
			if at != tt.at || !errors.Is(err, tt.err) {
				t.Errorf("%s: scan(%q) in pieces of %d = %d, %v; want %d, %v", tt.name, tt.in, step, at, err, tt.at, tt.err)
			}
		}
	}
}

// FuzzStrictScan checks the scan against httpwire, the loop models' parser:
// a request httpwire accepts is never refused, and one it refuses for a bare
// LF or a fold, as its first request, the scan refuses too, unless it had
// left the connection to the stack (a length it cannot read, say, which the
// stack refuses itself).
func FuzzStrictScan(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n\n\n\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p httpwire.Parser
		_, n, err := p.Parse(in)
		at, serr, off := scanOff(string(in), 7)
		var we *httpwire.Error
		switch {
		case err == nil && serr != nil && at < n:
			t.Fatalf("httpwire accepts the first %d bytes of %q; the scan refuses byte %d: %v", n, in, at, serr)
		case errors.As(err, &we) && (we.Msg == errStrictBareLF.Msg || we.Msg == errStrictFolded.Msg) && serr == nil && !off:
			t.Fatalf("httpwire refuses %q (%s); the scan accepts it", in, we.Msg)
		}
	})
}

// byteScan is the byte-at-a-time scan strictConn.scan replaced, kept as the
// reference the line-at-a-time one must agree with (FuzzStrictScanSame).
func byteScan(c *strictConn, b []byte) (int, error) {
	for i := 0; i < len(b); i++ {
		if c.off {
			return len(b), nil
		}
		if c.skip > 0 {
			d := min(c.skip, int64(len(b)-i))
			c.skip -= d
			i += int(d) - 1
			continue
		}
		ch := b[i]
		switch {
		case ch == '\n':
			if c.start && c.lineLen == 0 {
				c.cr = false
				continue
			}
			if !c.cr {
				return i, errStrictBareLF
			}
			c.cr = false
			c.endLine()
		case ch == '\r':
			if c.cr {
				c.addByte('\r')
			}
			c.cr = true
		default:
			if c.cr {
				c.addByte('\r')
				c.cr = false
			}
			if c.lineLen == 0 && !c.start && !c.first && (ch == ' ' || ch == '\t') {
				return i, errStrictFolded
			}
			if c.start {
				c.start, c.first = false, true
			}
			c.addByte(ch)
		}
	}
	return len(b), nil
}

// FuzzStrictScanSame: the line-at-a-time scan refuses the same byte for the
// same reason as the byte-at-a-time one, ends its checks at the same point
// and leaves the same state, however the stream is split into reads.
func FuzzStrictScanSame(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\r\nGET / HTTP/1.1\r\nX: a\rb\r\r\n\r\n",
		"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\n\n \nGET / HTTP/1.1\r\n x\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"\r \r\nGET / HTTP/1.1\r\n\r \r\n\r\n",
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		if step == 0 {
			step = 1
		}
		got, want := &strictConn{start: true}, &strictConn{start: true}
		for i := 0; i < len(in); i += int(step) {
			piece := in[i:min(i+int(step), len(in))]
			gi, gerr := got.scan(piece)
			wi, werr := byteScan(want, piece)
			if gi != wi || gerr != werr {
				t.Fatalf("%q in pieces of %d, piece at %d: scan = %d, %v; byte scan = %d, %v", in, step, i, gi, gerr, wi, werr)
			}
			if gerr != nil {
				return
			}
			if *got != *want {
				t.Fatalf("%q in pieces of %d, after piece at %d: state %+v; byte scan %+v", in, step, i, *got, *want)
			}
		}
	})
}
