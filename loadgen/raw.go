package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// rawSink is the sink writing Config.RawOut: every measured result in
// vegeta's binary (gob) encoding, without body and headers, corrected so that
// stock `vegeta report` and `vegeta plot` show what concbench measures:
// Timestamp is the request's intended send time and Latency its response
// time from then (vegeta's own Latency starts when a worker picked the tick
// up: a stall of the generator or a full pool would vanish from it, the
// coordinated omission vegeta's report would otherwise show). BytesIn is the
// answer's body length, which vegeta leaves 0 when it does not keep bodies.
type rawSink struct {
	nopSink
	buf *bufio.Writer
	enc vegeta.Encoder
	err error // the first error; nothing more is written after it
}

var _ sink = (*rawSink)(nil)

func newRawSink(w io.Writer) *rawSink {
	buf := bufio.NewWriterSize(w, 64<<10)
	return &rawSink{buf: buf, enc: vegeta.NewEncoder(buf)}
}

func (s *rawSink) record(rec *record) {
	if !rec.measured() || s.err != nil {
		return
	}
	r := *rec.res
	end := r.Timestamp.Add(r.Latency)
	r.Timestamp, r.Latency = rec.intended, end.Sub(rec.intended)
	if r.BytesIn == 0 && r.Headers != nil {
		if n, err := strconv.ParseUint(r.Headers.Get("Content-Length"), 10, 64); err == nil {
			r.BytesIn = n
		}
	}
	r.Body, r.Headers = nil, nil
	if err := s.enc.Encode(&r); err != nil {
		s.err = fmt.Errorf("loadgen: raw output: %w", err)
	}
}

// close flushes what is buffered. The writer stays open: it is the caller's.
func (s *rawSink) close([]*classRec) (map[string]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.buf.Flush(); err != nil {
		return nil, fmt.Errorf("loadgen: raw output: %w", err)
	}
	return nil, nil
}
