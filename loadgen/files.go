package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/result"
)

// histFiles is the sink writing the histogram files of Config.OutDir: per
// class, an interval log of response time (.hlog, one histogram per second of
// the window, written as the attack goes) and, at the end, the percentile
// distributions of response and service time (.hgrm, .service.hgrm).
type histFiles struct {
	nopSink
	dir    string
	cellID string
	rate   float64
	logs   []*hlogFile // one per class of the mix
	// us and ns convert a second's histogram from the recorder's
	// microseconds to the nanoseconds of the interval logs.
	us, ns *hdr.Histogram
}

// The interval logs hold nanoseconds, the unit HdrHistogram's log tools
// assume: the log writer prints each interval's maximum divided by 10⁶
// (milliseconds for nanosecond values, seconds for microseconds), and
// HistogramLogProcessor's default -outputValueUnitRatio of 10⁶ prints
// percentiles in milliseconds.
const nsPerUnit = 1000 // nanoseconds per histogram unit (µs)

// hlogFile is one class's interval log.
type hlogFile struct {
	name string // the class's name
	file string // CellID.CLASS, the files' common prefix
	w    *hdr.HistogramLogWriter
	f    *os.File
	buf  *bufio.Writer
	err  error // the first write error; the log stops there
}

var _ sink = (*histFiles)(nil)

// newHistFiles creates dir and the interval logs of the classes named. On
// error nothing is left open.
func newHistFiles(dir, cellID string, rate float64, classes []string) (*histFiles, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("loadgen: %v", err)
	}
	h := &histFiles{dir: dir, cellID: cellID, rate: rate, us: newHist(),
		ns: hdr.New(histMin*nsPerUnit, histMax*nsPerUnit, histSig)}
	for _, name := range classes {
		l := &hlogFile{name: name, file: cellID + "." + fileSafe(name)}
		f, err := os.Create(filepath.Join(dir, l.file+".hlog"))
		if err != nil {
			for _, l := range h.logs {
				_ = l.f.Close()
			}
			return nil, fmt.Errorf("loadgen: %v", err)
		}
		l.f = f
		l.buf = bufio.NewWriter(f)
		l.w = hdr.NewHistogramLogWriter(l.buf)
		h.logs = append(h.logs, l)
	}
	return h, nil
}

// fileSafe maps a class name to a file name part.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// begin writes the header of every interval log. Interval start times are
// relative to the log's BaseTime, the whole second the window started in (the
// log format writes base and start times in whole seconds), so base +
// interval start is the exact wall-clock time.
func (h *histFiles) begin(w window) {
	startMs := w.start.UnixMilli()
	baseMs := startMs - startMs%1000
	for _, l := range h.logs {
		l.w.SetBaseTime(baseMs)
		for _, err := range []error{
			l.w.OutputLogFormatVersion(),
			l.w.OutputComment(fmt.Sprintf("[concbench loadgen: cell %s, class %s, %g req/s offered; response time from intended send, in nanoseconds; Interval_Max in milliseconds]",
				h.cellID, fileSafe(l.name), h.rate)),
			l.w.OutputStartTime(startMs),
			l.w.OutputBaseTime(baseMs),
			l.w.OutputLegend(),
		} {
			if err != nil && l.err == nil {
				l.err = err
			}
		}
	}
}

// second appends the second's histogram of every class to its log, an empty
// one for a class without requests in it, in nanoseconds: each bucket's
// count is recorded at its highest equivalent value times 1000, so a
// percentile read from the log is the recorder's to within the histograms'
// 3 significant digits.
func (h *histFiles) second(_ int, from, to time.Time, hists []*hdr.PackedHistogram) {
	for i, l := range h.logs {
		if l.err != nil {
			continue
		}
		h.us.Reset()
		h.ns.Reset()
		if hists != nil && hists[i] != nil {
			hists[i].MergeInto(h.us)
			for _, b := range h.us.Distribution() {
				if b.Count > 0 {
					_ = h.ns.RecordValues(min(b.To, histMax)*nsPerUnit, b.Count) // within range: no error
				}
			}
		}
		h.ns.SetStartTimeMs(from.UnixMilli())
		h.ns.SetEndTimeMs(to.UnixMilli())
		if err := l.w.OutputIntervalHistogram(h.ns); err != nil {
			l.err = err
		}
	}
}

// close writes the .hgrm files and closes the interval logs. A file that
// could not be written is left out of files, with its error.
func (h *histFiles) close(classes []*classRec) (map[string]string, error) {
	files := make(map[string]string, 3*len(h.logs))
	var errs []error
	for i, l := range h.logs {
		c := classes[i]
		if err := h.writeHgrm(l.file+".hgrm", c.resp); err != nil {
			errs = append(errs, err)
		} else {
			files["hgrm:"+l.name] = l.file + ".hgrm"
		}
		if err := h.writeHgrm(l.file+".service.hgrm", c.svc); err != nil {
			errs = append(errs, err)
		} else {
			files["hgrm-service:"+l.name] = l.file + ".service.hgrm"
		}
		if err := l.close(); err != nil {
			errs = append(errs, fmt.Errorf("loadgen: %s.hlog: %w", l.file, err))
		} else {
			files["hlog:"+l.name] = l.file + ".hlog"
		}
	}
	return files, errors.Join(errs...)
}

// writeHgrm writes h's percentile distribution in milliseconds, in the
// standard .hgrm text format (HdrHistogram's PercentilesPrint, 5 ticks per
// half distance, as wrk2 and the HdrHistogram plotter use).
func (h *histFiles) writeHgrm(name string, hist *hdr.Histogram) error {
	var b strings.Builder
	if _, err := hist.PercentilesPrint(&b, 5, 1000); err != nil {
		return fmt.Errorf("loadgen: %s: %w", name, err)
	}
	if err := result.WriteFileAtomic(filepath.Join(h.dir, name), []byte(b.String())); err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	return nil
}

// close flushes and closes the interval log, returning its first error.
func (l *hlogFile) close() error {
	if l.f == nil {
		return nil
	}
	err := l.err
	if ferr := l.buf.Flush(); err == nil {
		err = ferr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
