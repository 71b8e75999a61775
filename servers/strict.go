package servers

import (
	"bytes"
	"net"
	"strconv"
)

// StrictListener wraps ln so that the header blocks its connections carry are
// refused when they use one of the two framings peers disagree on: a line
// ended by a bare LF, and a folded line (obs-fold: a line starting with SP or
// HTAB). net/http and fasthttp accept both, so a front end that frames the
// stream differently could smuggle its "body" in as our next request; Node 20
// and the loop models (httpwire) answer 400. The wrapped stack answers the
// refusal the way it answers any malformed header block (400) and closes.
//
// The check follows the requests through the stream: a header block, then
// as many body bytes as its Content-Length says. A Transfer-Encoding, a
// Content-Length it cannot read or a second one end the checks on that
// connection: the stack behind decides alone from there (and refuses or
// frames those requests itself). Only header bytes are looked at one by one;
// bodies are skipped by length.
func StrictListener(ln net.Listener) net.Listener { return strictListener{ln} }

type strictListener struct{ net.Listener }

// Accept implements net.Listener.
func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c, start: true}, nil
}

// StrictError is the read error a connection of a StrictListener returns
// once the client sent a header block it refuses.
type StrictError struct{ Msg string }

func (e *StrictError) Error() string { return "strict framing: " + e.Msg }

// The messages are httpwire's, so every model says the same.
var (
	errStrictBareLF = &StrictError{"header lines must end with CRLF"}
	errStrictFolded = &StrictError{"folded header line (obs-fold)"}
)

// strictConn checks the header blocks read through it. It is used by one
// reading goroutine at a time, like any net.Conn the stacks read.
type strictConn struct {
	net.Conn
	err     error // returned by the next Read
	off     bool  // checks ended (see StrictListener)
	skip    int64 // body bytes still to pass
	start   bool  // before a request line: empty lines are allowed
	first   bool  // in the request line
	lineLen int   // bytes of the current line so far, CR excluded
	cr      bool  // the last byte was a CR
	// line holds the start of the current header line, enough to recognise
	// Content-Length and Transfer-Encoding and read a length.
	line     [48]byte
	length   int64 // Content-Length of the current block
	nlengths int
}

// CloseWrite lets net/http half-close after an error answer, as it does on
// a bare *net.TCPConn.
func (c *strictConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Read implements net.Conn: the bytes before a refused line are delivered,
// then the refusal as an error.
func (c *strictConn) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(b)
	if c.off {
		return n, err
	}
	if i, serr := c.scan(b[:n]); serr != nil {
		c.err = serr
		if i == 0 {
			return 0, serr
		}
		return i, nil
	}
	return n, err
}

// scan follows b through the stream; on a refusal it returns the offset of
// the offending byte.
//
// It goes a line at a time (bytes.IndexByte finds the LF), not a byte at a
// time: only the bytes at a line's two ends decide anything (a fold at its
// start, the CR before its LF), and up to len(c.line) of its first bytes are
// kept to recognise the two framing fields. strict_test.go keeps the
// byte-at-a-time scan this replaced and fuzzes the two against each other.
func (c *strictConn) scan(b []byte) (int, error) {
	for i := 0; i < len(b); {
		if c.off {
			return len(b), nil
		}
		if c.skip > 0 {
			d := min(c.skip, int64(len(b)-i))
			c.skip -= d
			i += int(d)
			continue
		}
		seg := b[i:]
		lf := bytes.IndexByte(seg, '\n')
		if lf >= 0 {
			seg = seg[:lf]
		}
		if len(seg) > 0 {
			if c.cr { // a lone CR before this byte: part of the line
				c.addByte('\r')
				c.cr = false
			}
			if c.lineLen == 0 && !c.start && !c.first && (seg[0] == ' ' || seg[0] == '\t') {
				return i, errStrictFolded
			}
			text := seg
			if text[len(text)-1] == '\r' { // the line's end if an LF follows
				text = text[:len(text)-1]
				c.cr = true
			}
			if c.start && hasNonCR(text) {
				c.start, c.first = false, true
			}
			if c.lineLen < len(c.line) {
				copy(c.line[c.lineLen:], text)
			}
			c.lineLen += len(text)
		}
		if lf < 0 {
			return len(b), nil
		}
		i += lf
		switch {
		case c.start && c.lineLen == 0:
			c.cr = false // an empty line before the request: allowed
		case !c.cr:
			return i, errStrictBareLF
		default:
			c.cr = false
			c.endLine()
		}
		i++
	}
	return len(b), nil
}

func hasNonCR(b []byte) bool {
	for _, ch := range b {
		if ch != '\r' {
			return true
		}
	}
	return false
}

func (c *strictConn) addByte(ch byte) {
	if c.lineLen < len(c.line) {
		c.line[c.lineLen] = ch
	}
	c.lineLen++
}

// endLine ends a CRLF-terminated line: the request line, a field, or the
// empty line that ends the block.
func (c *strictConn) endLine() {
	line := c.line[:min(c.lineLen, len(c.line))]
	full := c.lineLen <= len(c.line)
	switch {
	case c.first:
		c.first = false
	case c.lineLen == 0: // end of the block
		c.skip, c.start = c.length, true
		c.length, c.nlengths = 0, 0
	case line[0]|0x20 != 't' && line[0]|0x20 != 'c':
		// Neither field: most lines end here, before any EqualFold.
	case hasPrefixFold(line, "transfer-encoding:"):
		c.off = true
	case hasPrefixFold(line, "content-length:"):
		v := bytes.TrimSpace(line[len("content-length:"):])
		n, err := strconv.ParseInt(string(v), 10, 64)
		c.nlengths++
		if !full || err != nil || n < 0 || c.nlengths > 1 {
			c.off = true
		}
		c.length = n
	}
	c.lineLen = 0
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}
