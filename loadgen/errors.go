package loadgen

import "strings"

// Error kinds, as recorded in result.Class.ErrorsByKind and result.Second.ErrorKind.
const (
	KindTimeout   = "timeout"    // no complete answer within Config.Timeout
	KindRefused   = "refused"    // connect: connection refused (nothing listening, or a full accept backlog)
	KindReset     = "reset"      // the connection was reset or closed before the answer was complete
	KindStatus4xx = "status_4xx" // an answer with a 4xx status
	KindStatus5xx = "status_5xx" // an answer with a 5xx status
	KindOther     = "other"      // any other failure (status 0, or a status below 200)
)

// kinds lists the error kinds in a fixed order; a kind's index is its id.
var kinds = [...]string{KindTimeout, KindRefused, KindReset, KindStatus4xx, KindStatus5xx, KindOther}

const (
	kTimeout = iota
	kRefused
	kReset
	k4xx
	k5xx
	kOther
	nKinds
)

// classify returns the kind id of a failed result (code is the HTTP status, 0
// when there was no answer; msg is vegeta's Result.Error), and whether the
// error shows that the generator ran out of local ports or file descriptors.
// Status-0 errors only carry a string by the time they reach the results
// channel, so they are classified by the text of the net, net/http and
// fasthttp errors.
func classify(code uint16, msg string) (kind int, exhausted bool) {
	switch {
	case code >= 500:
		return k5xx, false
	case code >= 400:
		return k4xx, false
	case code != 0:
		return kOther, false
	}
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "cannot assign requested address"), // EADDRNOTAVAIL: no free local port
		strings.Contains(m, "too many open files"),       // EMFILE
		strings.Contains(m, "file table overflow"),       // ENFILE
		strings.Contains(m, "no buffer space available"): // ENOBUFS
		return kOther, true
	case strings.Contains(m, "connection refused"):
		return kRefused, false
	case strings.Contains(m, "timeout"), // net/http "Client.Timeout exceeded", "i/o timeout", fasthttp "timeout"
		strings.Contains(m, "deadline exceeded"):
		return kTimeout, false
	case strings.Contains(m, "connection reset"),
		strings.Contains(m, "broken pipe"),
		strings.Contains(m, "server closed connection"), // net/http, fasthttp ErrConnectionClosed
		strings.Contains(m, "closed connection before"),
		strings.HasSuffix(m, ": eof"), strings.HasSuffix(m, "unexpected eof"), m == "eof":
		return kReset, false
	}
	return kOther, false
}
