package loadgen

import (
	"bufio"
	"fmt"
	"io"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// rawSink is the sink writing Config.RawOut: every measured result in
// vegeta's binary (gob) encoding, without body and headers.
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
	rec.res.Body, rec.res.Headers = nil, nil
	if err := s.enc.Encode(rec.res); err != nil {
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
