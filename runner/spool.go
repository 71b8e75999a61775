package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/stats"
)

// spool holds a sampler's readings in a temporary file while a cell runs, as
// JSON lines: one record per reading. It is not safe for concurrent use (the
// sampler's mutex guards it).
type spool struct {
	f   *os.File
	buf *bufio.Writer
	enc *json.Encoder
	n   int // records written
	// broken is set after a failed write: nothing more is written.
	broken bool
}

// spoolRecord is one reading: a /proc sample or a /stats reading.
type spoolRecord struct {
	Proc  *spoolProc  `json:"proc,omitempty"`
	Stats *spoolStats `json:"stats,omitempty"`
}

type spoolProc struct {
	At      time.Time       `json:"at"`
	CPU     map[int]float64 `json:"cpu"`
	RSS     int64           `json:"rss"`
	PSS     int64           `json:"pss"`
	Threads int             `json:"threads"`
	Vol     int64           `json:"vol"`
	Invol   int64           `json:"invol"`
	Ctx     bool            `json:"ctx"`
	Tasks   map[int]int64   `json:"tasks,omitempty"`
	// CPUTimes: the server CPUs' /proc/stat times (procSample.cpuTimes).
	CPUTimes map[int]procstat.CPUTimes `json:"cpu_times,omitempty"`
}

type spoolStats struct {
	At      time.Time       `json:"at"`
	Replied time.Time       `json:"replied"`
	Snap    *stats.Snapshot `json:"snap"`
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "concbench-samples-*.jsonl")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open file is all that is needed, and nothing is
	// left behind if the run is killed.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, err
	}
	buf := bufio.NewWriterSize(f, 32<<10)
	return &spool{f: f, buf: buf, enc: json.NewEncoder(buf)}, nil
}

// write appends one reading (either p or x).
func (sp *spool) write(p *procSample, x *statsSample) error {
	var rec spoolRecord
	if p != nil {
		rec.Proc = &spoolProc{At: p.at, CPU: p.cpu, RSS: p.rss, PSS: p.pss, Threads: p.threads, Vol: p.vol, Invol: p.invol, Ctx: p.ctx, Tasks: p.tasks, CPUTimes: p.cpuTimes}
	}
	if x != nil {
		rec.Stats = &spoolStats{At: x.at, Replied: x.replied, Snap: x.snap}
	}
	if err := sp.enc.Encode(&rec); err != nil {
		return err
	}
	sp.n++
	return nil
}

// failed stops the writing after a failed write; readBack still returns what
// was written before.
func (sp *spool) failed() { sp.broken = true }

// readBack hands every reading written, in order, to proc or stats, and
// closes the spool.
func (sp *spool) readBack(proc func(procSample), stats func(statsSample)) error {
	defer sp.f.Close()
	// After a failed write or flush, what reached the file is still read.
	flushErr := sp.buf.Flush()
	if sp.broken {
		flushErr = nil // reported when the write failed
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return errors.Join(flushErr, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(sp.f, 32<<10))
	for read := 0; ; read++ {
		var rec spoolRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			if read < sp.n {
				return errors.Join(flushErr, fmt.Errorf("%d of %d readings read", read, sp.n))
			}
			return flushErr
		}
		if err != nil {
			return errors.Join(flushErr, err)
		}
		if p := rec.Proc; p != nil {
			proc(procSample{at: p.At, cpu: p.CPU, rss: p.RSS, pss: p.PSS, threads: p.Threads, vol: p.Vol, invol: p.Invol, ctx: p.Ctx, tasks: p.Tasks, cpuTimes: p.CPUTimes})
		}
		if x := rec.Stats; x != nil && x.Snap != nil {
			stats(statsSample{at: x.At, replied: x.Replied, snap: x.Snap})
		}
	}
}
