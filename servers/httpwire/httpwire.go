// Package httpwire frames HTTP/1.1 requests out of raw socket bytes and
// writes HTTP/1.1 responses, for the event-loop (gnet) servers, which never
// see a net.Conn: they get whatever bytes the socket has delivered so far,
// which may hold several pipelined requests, or only part of one.
//
// Framing (where a request ends) is done here; the header block itself is
// parsed by fasthttp's RequestHeader, so these servers accept and reject the
// same requests as the fasthttp-based ones.
//
// Request bodies are supported only as Content-Length bodies, and only so
// that they can be skipped: no route of the benchmark servers reads a body.
// A request carrying any Transfer-Encoding header is answered 501 rather
// than decoded.
package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Limits used when the corresponding Parser field is zero (or negative).
const (
	defaultMaxHeaderBytes = 8192
	defaultMaxBodyBytes   = 1 << 20
)

// Request is one parsed request. Its byte slices alias the Parser's internal
// state and are valid only until the next call to Parse on the same Parser;
// copy them to keep them longer.
type Request struct {
	// Method is the request method exactly as sent; it is not upper-cased,
	// so "get" stays "get".
	Method []byte
	// Path is the percent-decoded, normalized path without the query, e.g.
	// "/cpu". For an absolute-form target ("GET http://host/cpu HTTP/1.1")
	// it is the path part only.
	Path []byte
	// Query is the raw query string without the '?', e.g. "iters=10&x=1";
	// empty if there is none.
	Query []byte
	// KeepAlive is false when the connection must be closed after the
	// response: "Connection: close", or HTTP/1.0 without
	// "Connection: keep-alive".
	KeepAlive bool
	// Continue is true when the client sent "Expect: 100-continue" and
	// waits for a 100 Continue before it sends the body.
	Continue bool
}

// Error is a malformed or unsupported request. The caller answers with
// Status and Msg (a single line of text, safe to use as a body), then closes
// the connection: after an error the position of the next request in the
// stream is unknown.
//
// Status is one of 400, 413, 431, 501 or 505.
type Error struct {
	Status int
	Msg    string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "httpwire: " + strconv.Itoa(e.Status) + " " + e.Msg
}

// ErrIncomplete is returned by Parse when buf does not yet hold a whole
// request (header block plus body): read more bytes and call Parse again
// with the grown buffer, still starting at the same request.
var ErrIncomplete = errors.New("httpwire: incomplete request")

// The errors are fixed values so that rejecting a request does not allocate,
// and never echo the client's bytes back.
var (
	errHeaderTooLarge   = &Error{Status: 431, Msg: "request header too large"}
	errBodyTooLarge     = &Error{Status: 413, Msg: "request body too large"}
	errBadRequestLine   = &Error{Status: 400, Msg: "malformed request line"}
	errBadHeader        = &Error{Status: 400, Msg: "malformed request header"}
	errBareLF           = &Error{Status: 400, Msg: "header lines must end with CRLF"}
	errFolded           = &Error{Status: 400, Msg: "folded header line (obs-fold)"}
	errFraming          = &Error{Status: 400, Msg: "ambiguous end of header block"}
	errBadURI           = &Error{Status: 400, Msg: "malformed request target"}
	errMissingHost      = &Error{Status: 400, Msg: "missing Host header"}
	errDuplicateLength  = &Error{Status: 400, Msg: "duplicate Content-Length"}
	errTransferEncoding = &Error{Status: 501, Msg: "Transfer-Encoding is not supported"}
	errVersion          = &Error{Status: 505, Msg: "HTTP version not supported"}
)

// uriHost is handed to fasthttp's URI parser in place of the Host header: we
// only need the path and query, and a fixed host can't fail to parse and is
// memoized by fasthttp, so origin-form targets never parse a host at all.
var uriHost = []byte("localhost")

// Parser frames requests from one connection's byte stream.
//
// The zero value is ready to use. A Parser is not safe for concurrent use;
// give each connection (or each event loop) its own. It must not be copied
// after the first call to Parse. After warm-up, Parse does not allocate.
type Parser struct {
	// MaxHeaderBytes bounds the header block: request line, header fields,
	// the terminating blank line, and any blank lines before the request
	// line. Larger blocks are rejected with 431. 0 means 8192. The Parser
	// keeps a buffer of this size.
	MaxHeaderBytes int
	// MaxBodyBytes bounds the Content-Length of a request; larger ones are
	// rejected with 413 before the body is read. 0 means 1 MiB.
	MaxBodyBytes int

	// fasthttp's parser reads from a *bufio.Reader; these are reset onto
	// each header block instead of being allocated per request.
	src bytes.Reader
	rd  *bufio.Reader
	hdr fasthttp.RequestHeader
	uri fasthttp.URI
}

// Parse frames the first request in buf.
//
// On success n is the number of bytes the request used (header block plus
// any Content-Length body, which is skipped), which the caller discards
// before the next call; n is always in [1, len(buf)]. If buf does not hold
// the whole request yet, err is ErrIncomplete. Otherwise err is an *Error.
// Parse keeps no state between calls, so each call after ErrIncomplete
// re-parses the header block; call it again only once more bytes arrived.
// A malformed request line is reported as soon as it is complete, without
// waiting for the rest of the header block.
//
// Parse neither modifies nor retains buf. The returned Request aliases the
// Parser's state and is valid until the next call to Parse.
func (p *Parser) Parse(buf []byte) (req Request, n int, err error) {
	req, headerLen, bodyLen, err := p.ParseHeader(buf)
	if err != nil {
		return Request{}, 0, err
	}
	// Compared by subtraction: headerLen+bodyLen could overflow when
	// MaxBodyBytes is huge.
	if len(buf)-headerLen < bodyLen {
		return Request{}, 0, ErrIncomplete
	}
	return req, headerLen + bodyLen, nil
}

// ParseHeader frames the header block of the first request in buf, without
// waiting for its body: headerLen is the length of the block (any empty lines
// before the request line included) and bodyLen the Content-Length of the body
// that follows it, which the caller skips as it arrives (Parse instead waits
// until the whole body is buffered). Errors and aliasing are as for Parse.
func (p *Parser) ParseHeader(buf []byte) (req Request, headerLen, bodyLen int, err error) {
	maxHeader := p.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = defaultMaxHeaderBytes
	}
	maxBody := p.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = defaultMaxBodyBytes
	}

	// Nothing beyond maxHeader can be part of an acceptable header block, so
	// only that much is ever searched, however much is buffered.
	window := buf[:min(len(buf), maxHeader)]
	// tooLarge is the verdict when window holds no complete block: once a
	// full window is buffered, waiting for more cannot help.
	tooLarge := len(buf) >= maxHeader

	// RFC 9112 section 2.2: ignore empty lines before the request line
	// (some clients send a stray CRLF after a body). fasthttp skips them
	// too; they count towards maxHeader so that a stream of CRLFs is
	// bounded.
	start := skipEmptyLines(window)
	lineLen := bytes.IndexByte(window[start:], '\n')
	if lineLen < 0 {
		if tooLarge {
			return Request{}, 0, 0, errHeaderTooLarge
		}
		return Request{}, 0, 0, ErrIncomplete
	}
	// Check the request line as soon as it is complete, so that garbage
	// (say, a TLS handshake) is rejected now rather than after timing out
	// waiting for a header terminator that never comes.
	if e := checkRequestLine(trimCR(window[start : start+lineLen])); e != nil {
		return Request{}, 0, 0, e
	}

	blockLen, e := headerBlockLen(window[start:], lineLen)
	if e != nil {
		return Request{}, 0, 0, e
	}
	if blockLen < 0 {
		if tooLarge {
			return Request{}, 0, 0, errHeaderTooLarge
		}
		return Request{}, 0, 0, ErrIncomplete
	}
	block := window[start : start+blockLen]
	headerEnd := start + blockLen

	if hasField(block[lineLen+1:], "transfer-encoding:") {
		return Request{}, 0, 0, errTransferEncoding
	}

	if p.rd == nil || p.rd.Size() < maxHeader {
		// The whole block must fit in the bufio buffer, or fasthttp
		// reports ErrSmallBuffer.
		p.rd = bufio.NewReaderSize(&p.src, maxHeader)
	}
	p.src.Reset(block)
	p.rd.Reset(&p.src)
	err = p.hdr.Read(p.rd)
	p.src.Reset(nil) // fasthttp has copied what it needs; don't pin the caller's buffer
	if err != nil {
		return Request{}, 0, 0, headerError(err, block, lineLen)
	}
	// fasthttp must agree on where the block ends. headerBlockLen already
	// refuses the bare-LF terminators fasthttp would stop at, so this is a
	// guard against framings diverging in ways not foreseen: a request whose
	// end is ambiguous is a request-smuggling vector.
	if p.rd.Buffered() != 0 {
		return Request{}, 0, 0, errFraming
	}

	// Absent Content-Length reads as -2; -1 (chunked) was refused above.
	bodyLen = max(p.hdr.ContentLength(), 0)
	if bodyLen > maxBody {
		return Request{}, 0, 0, errBodyTooLarge
	}

	if err := p.uri.Parse(uriHost, p.hdr.RequestURI()); err != nil {
		return Request{}, 0, 0, errBadURI
	}

	req = Request{
		Method:    p.hdr.Method(),
		Path:      p.uri.Path(),
		Query:     p.uri.QueryString(),
		KeepAlive: !p.hdr.ConnectionClose(),
		Continue:  bodyLen > 0 && bytes.EqualFold(p.hdr.Peek("Expect"), []byte("100-continue")),
	}
	return req, headerEnd, bodyLen, nil
}

// skipEmptyLines returns the length of the empty lines ("\r\n" or "\n") at
// the start of b, the same lines fasthttp skips before the request line.
func skipEmptyLines(b []byte) int {
	i := 0
	for {
		switch {
		case i < len(b) && b[i] == '\n':
			i++
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
}

// headerBlockLen returns the length of the header block at the start of b,
// up to and including its terminating "\r\n\r\n", or -1 if the terminator
// has not arrived yet. lineLen is the index of the '\n' ending the request
// line.
//
// The block ends at the first empty line, which must be a CRLF preceded by
// a CRLF. fasthttp would also end a block at a bare-LF empty line ("\n\n",
// or "x\n\r\n"), but only once a CRLFCRLF shows up somewhere in its buffer,
// which may be in the next request; such a request is rejected outright
// instead, since peers disagree on where it ends.
func headerBlockLen(b []byte, lineLen int) (int, *Error) {
	for i := lineLen; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		// Every line of the block ends with CRLF. A bare LF is a line end to
		// some peers and not to others, which lets bytes one of them takes
		// for a body become the other's next request (Node 20 answers 400).
		if i == 0 || b[i-1] != '\r' {
			return 0, errBareLF
		}
		// b[i] ends a line; is the next line empty?
		if i+1 >= len(b) {
			return -1, nil
		}
		switch b[i+1] {
		case ' ', '\t':
			// obs-fold (RFC 9112 section 5.2): a server may reject it,
			// and must when it does not unfold; Node 20 does.
			return 0, errFolded
		case '\n':
			return 0, errBareLF
		case '\r':
			if i+2 >= len(b) {
				return -1, nil
			}
			if b[i+2] != '\n' {
				// A line starting with a lone CR; fasthttp rejects it.
				continue
			}
			if i == 0 || b[i-1] != '\r' {
				return 0, errBareLF
			}
			return i + 3, nil
		}
	}
	return -1, nil
}

// checkRequestLine checks the shape of the request line the way fasthttp's
// parser does (method token, two spaces, "HTTP/d.d" protocol), so it only
// rejects lines fasthttp would reject as well. It additionally answers 505
// for well-formed versions other than 1.0 and 1.1, which fasthttp accepts.
// The request target is left to fasthttp.
func checkRequestLine(line []byte) *Error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errBadRequestLine
	}
	for _, c := range line[:sp] {
		if !isTokenByte(c) {
			return errBadRequestLine
		}
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return errBadRequestLine
	}
	proto := rest[sp+1:]
	if len(proto) != len("HTTP/1.1") || string(proto[:5]) != "HTTP/" || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return errBadRequestLine
	}
	if string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0" {
		return errVersion
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTokenByte reports whether c is a tchar (RFC 9110 section 5.6.2), the
// same set fasthttp accepts in a method.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// hasField reports whether a line of the header fields (the block after the
// request line) starts with name, compared case-insensitively; with a
// trailing colon that is exactly "has a field named name".
//
// Transfer-Encoding is looked for this way rather than through fasthttp
// because fasthttp either hides it (identity) or fails with a generic error
// (unknown codings, HTTP/1.0), while RFC 9112 section 6.1 asks for 501 for a
// coding the server doesn't implement, which here is all of them.
// Continuation lines start with a space, so they never match.
func hasField(fields []byte, name string) bool {
	for len(fields) > 0 {
		line := fields
		if i := bytes.IndexByte(fields, '\n'); i >= 0 {
			line, fields = fields[:i], fields[i+1:]
		} else {
			fields = nil
		}
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
	}
	return false
}

// headerError turns a fasthttp parse error into an *Error. fasthttp's own
// messages quote the request, so only a few common causes get a specific
// message; the rest are "malformed request header". Missing Host is singled
// out because it is what a hand-typed HTTP/1.1 request usually gets wrong;
// any line starting with "host" (say "Host : x", which fasthttp rejects for
// the space) keeps the generic message rather than a misleading one.
func headerError(err error, block []byte, lineLen int) *Error {
	switch {
	case errors.Is(err, fasthttp.ErrDuplicateContentLength):
		return errDuplicateLength
	case bytes.HasSuffix(trimCR(block[:lineLen]), []byte("HTTP/1.1")) && !hasField(block[lineLen+1:], "host"):
		return errMissingHost
	}
	return errBadHeader
}

// AppendResponse appends a complete HTTP/1.1 response to dst and returns the
// extended slice: the status line with the standard reason phrase (empty for
// unknown codes), "Server: concbench", Content-Type (if contentType is
// non-empty), Content-Length, the extra headers, "Connection: close" when
// close is true, a blank line, and body.
//
// extra holds header name/value pairs, e.g. "Retry-After", "1"; it panics if
// their number is odd, like strings.NewReplacer. Names and values are written
// verbatim, so they must not contain CR or LF. status should be a three-digit
// code.
//
// AppendResponse is safe for concurrent use and does not allocate when dst
// has enough capacity.
func AppendResponse(dst []byte, status int, contentType string, body []byte, close bool, extra ...string) []byte {
	if len(extra)%2 != 0 {
		panic("httpwire: AppendResponse: odd number of extra header arguments")
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\nServer: concbench\r\n"...)
	if contentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, contentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	for i := 0; i < len(extra); i += 2 {
		dst = append(dst, extra[i]...)
		dst = append(dst, ": "...)
		dst = append(dst, extra[i+1]...)
		dst = append(dst, "\r\n"...)
	}
	if close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}
