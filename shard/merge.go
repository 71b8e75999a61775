package shard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/concbench/concbench/loadgen"
	"github.com/concbench/concbench/result"
)

// Input is one shard's results as merge reads them: the run (one cell) and
// the directory its files are relative to.
type Input struct {
	Dir string
	Run *result.Run
}

// Load reads the results directories of the shards of one cell.
func Load(dirs []string) ([]Input, error) {
	var in []Input
	for _, d := range dirs {
		r, err := result.Load(d)
		if err != nil {
			return nil, err
		}
		in = append(in, Input{Dir: d, Run: r})
	}
	return in, nil
}

// Merge merges the shards of one cell into a run of one cell and writes the
// merged histogram files (.hgrm, .service.hgrm, .hlog per class) into out.
// Every shard 0..N−1 of the cell must be there, once. The caller saves the
// run (result.Save). Histograms are added bucket by bucket: the merged
// percentiles are those of every measured request of every shard.
func Merge(in []Input, out string) (*result.Run, error) {
	if len(in) == 0 {
		return nil, errors.New("merge: no shard")
	}
	cells := make([]result.Cell, len(in))
	for i, s := range in {
		if len(s.Run.Cells) != 1 {
			return nil, fmt.Errorf("merge: %s: %d cells; a shard's results hold one", s.Dir, len(s.Run.Cells))
		}
		c := s.Run.Cells[0]
		if len(c.Shards) != 1 {
			return nil, fmt.Errorf("merge: %s: cell %s is not one shard's (it lists %d shards)", s.Dir, c.ID, len(c.Shards))
		}
		cells[i] = c
	}
	// Order by shard index, and check the set is whole.
	order := make([]int, len(in))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cells[a].Shards[0].Index - cells[b].Shards[0].Index })
	n := cells[0].Shards[0].Count
	if len(in) != n {
		return nil, fmt.Errorf("merge: %d results for %d shards: every shard of the cell is needed", len(in), n)
	}
	first := cells[order[0]]
	for k, i := range order {
		c, sh := cells[i], cells[i].Shards[0]
		switch {
		case sh.Count != n || sh.Index != k:
			return nil, fmt.Errorf("merge: %s is shard %s; want shard %d/%d once each", in[i].Dir, Name(sh), k, n)
		case c.ID != first.ID || c.Scenario != first.Scenario:
			return nil, fmt.Errorf("merge: %s is cell %s, %s is cell %s: shards of one cell only", in[i].Dir, c.ID, in[order[0]].Dir, first.ID)
		case c.DurationSec != first.DurationSec || c.WarmupSec != first.WarmupSec:
			return nil, fmt.Errorf("merge: %s: window %gs after %gs warmup; shard 0 had %gs after %gs", in[i].Dir, c.DurationSec, c.WarmupSec, first.DurationSec, first.WarmupSec)
		case len(c.Classes) != len(first.Classes):
			return nil, fmt.Errorf("merge: %s: %d classes; shard 0 had %d", in[i].Dir, len(c.Classes), len(first.Classes))
		}
		for j, cl := range c.Classes {
			if cl.Name != first.Classes[j].Name || cl.Target != first.Classes[j].Target {
				return nil, fmt.Errorf("merge: %s: class %d is %s %s; shard 0's is %s %s", in[i].Dir, j, cl.Name, cl.Target, first.Classes[j].Name, first.Classes[j].Target)
			}
		}
	}

	m := result.Cell{
		ID:          first.ID,
		Model:       first.Model,
		Scenario:    first.Scenario,
		Rep:         first.Rep,
		DurationSec: first.DurationSec,
		WarmupSec:   first.WarmupSec,
		ServerArgs:  first.ServerArgs,
		Validity:    result.Validity{Valid: true},
		Resources:   first.Resources,
		Server:      first.Server,
	}
	var err error
	lag := make([]result.Latency, 0, n)
	for _, i := range order {
		c := cells[i]
		m.Rate += c.Rate
		m.MaxConnections += c.MaxConnections
		m.SentRPS += c.SentRPS
		m.AchievedRPS += c.AchievedRPS
		m.Requests += c.Requests
		m.OK += c.OK
		m.Errors += c.Errors
		m.Censored += c.Censored
		m.NeverSent += c.NeverSent
		m.Drained += c.Drained
		m.Retries += c.Retries
		m.Clamped += c.Clamped
		m.PoolFull = max(m.PoolFull, c.PoolFull)
		m.MeasuredSec = max(m.MeasuredSec, c.MeasuredSec)
		// The shards' peaks need not coincide: their sum bounds the merged peak.
		m.PeakInFlight += c.PeakInFlight
		lag = append(lag, c.DispatchLag)
		sh := c.Shards[0]
		sh.Dir = in[i].Dir
		m.Shards = append(m.Shards, sh)
	}
	m.Rate, m.SentRPS, m.AchievedRPS = round3(m.Rate), round3(m.SentRPS), round3(m.AchievedRPS)
	if m.DispatchLag, _, err = mergeLatency(lag); err != nil {
		return nil, fmt.Errorf("merge: dispatch lag: %w", err)
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	var errs []error
	for j, fc := range first.Classes {
		mc := result.Class{Name: fc.Name, Target: fc.Target, Weight: fc.Weight, Heavy: fc.Heavy}
		var resp, svc, failed []result.Latency
		for _, i := range order {
			cl := cells[i].Classes[j]
			mc.Requests += cl.Requests
			mc.OK += cl.OK
			mc.Errors += cl.Errors
			for k, v := range cl.ErrorsByKind {
				if mc.ErrorsByKind == nil {
					mc.ErrorsByKind = map[string]int64{}
				}
				mc.ErrorsByKind[k] += v
			}
			resp, svc = append(resp, cl.Response), append(svc, cl.Service)
			if cl.Failed != nil {
				failed = append(failed, *cl.Failed)
			}
		}
		var rh, sh *hdr.Histogram
		if mc.Response, rh, err = mergeLatency(resp); err != nil {
			return nil, fmt.Errorf("merge: class %s, response time: %w", fc.Name, err)
		}
		if mc.Service, sh, err = mergeLatency(svc); err != nil {
			return nil, fmt.Errorf("merge: class %s, service time: %w", fc.Name, err)
		}
		if len(failed) > 0 {
			f, _, err := mergeLatency(failed)
			if err != nil {
				return nil, fmt.Errorf("merge: class %s, failed requests: %w", fc.Name, err)
			}
			mc.Failed = &f
		}
		m.Classes = append(m.Classes, mc)
		prefix := m.ID + "." + loadgen.FileSafe(fc.Name)
		for kind, f := range map[string]struct {
			name string
			h    *hdr.Histogram
		}{"hgrm:": {prefix + ".hgrm", rh}, "hgrm-service:": {prefix + ".service.hgrm", sh}} {
			if err := loadgen.WriteHgrm(filepath.Join(out, f.name), f.h); err != nil {
				errs = append(errs, err)
				continue
			}
			addFile(&m, kind+fc.Name, f.name)
		}
	}

	notes, terr := mergeTimeline(&m, in, cells, order, out)
	if terr != nil {
		errs = append(errs, terr)
	}
	judge(&m, cells, order)
	m.Validity.Reasons = append(m.Validity.Reasons, notes...)

	fr := in[order[0]].Run
	run := &result.Run{
		Plan:    fr.Plan,
		Env:     fr.Env,
		Started: fr.Started,
		Cells:   []result.Cell{m},
	}
	var hosts []string
	for _, i := range order {
		r := in[i].Run
		if r.Started.Before(run.Started) {
			run.Started = r.Started
		}
		if r.Finished.After(run.Finished) {
			run.Finished = r.Finished
		}
		run.Interrupted = run.Interrupted || r.Interrupted
		if h := r.Env.Hostname; h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	run.Env.Hostname = strings.Join(hosts, ",")
	run.Env.Pinning.Note = strings.TrimSpace(run.Env.Pinning.Note + fmt.Sprintf(" load from %d generator shards (pinning of shard 0 shown)", n))
	return run, errors.Join(errs...)
}

// judge sets the merged cell's validity: every shard's verdict, each reason
// naming its shard, and the start barrier's spread.
func judge(m *result.Cell, cells []result.Cell, order []int) {
	v := &m.Validity
	over := false
	hosts := map[string]bool{}
	for _, i := range order {
		hosts[cells[i].Shards[0].Host] = true
	}
	var early, late result.Shard
	for k, i := range order {
		sh := cells[i].Shards[0]
		sv := cells[i].Validity
		for _, r := range sv.Reasons {
			if sv.Valid {
				v.Reasons = append(v.Reasons, fmt.Sprintf("shard %s: %s", Name(sh), r))
			}
		}
		if !sv.Valid {
			cause := sv.Cause
			if cause == "" {
				cause = result.CauseGenerator
			}
			what := "was generator-bound"
			if cause == result.CauseServer {
				what = "saw the server fail"
			}
			v.Invalidate(cause, fmt.Sprintf("shard %s (host %s) %s: %s", Name(sh), sh.Host, what, strings.Join(sv.Reasons, " ")))
		}
		over = over || sv.OverCapacity
		if len(hosts) > 1 && !sh.Clock.Synchronized { // one host reads one clock
			v.Reasons = append(v.Reasons, fmt.Sprintf("shard %s: host %s's clock is not known to be synchronised (%s): the start spread below is as read on its own clock", Name(sh), sh.Host, sh.Clock.Source))
		}
		if k == 0 || sh.Start.Before(early.Start) {
			early = sh
		}
		if k == 0 || sh.Start.After(late.Start) {
			late = sh
		}
	}
	if spread := late.Start.Sub(early.Start); spread > MaxStartSpread {
		v.Invalidate(result.CauseGenerator, fmt.Sprintf("shards started %s apart (shard %s at %s, shard %s at %s), more than %s: their merged arrivals were not the plan's constant rate",
			spread.Round(time.Microsecond), Name(early), early.Start.Format(time.RFC3339Nano), Name(late), late.Start.Format(time.RFC3339Nano), MaxStartSpread))
	}
	v.OverCapacity = v.Valid && over
}

// mergeLatency adds the histograms of ls and summarizes the sum.
func mergeLatency(ls []result.Latency) (result.Latency, *hdr.Histogram, error) {
	sum := loadgen.NewHistogram()
	for _, l := range ls {
		if l.Count == 0 && l.HDR == "" {
			continue
		}
		if l.HDR == "" {
			return result.Latency{}, nil, errors.New("a shard's results hold no histogram (written by a concbench without result.Latency.HDR): cannot merge exactly")
		}
		h, err := hdr.Decode([]byte(l.HDR))
		if err != nil {
			return result.Latency{}, nil, err
		}
		if dropped := sum.Merge(h); dropped != 0 {
			return result.Latency{}, nil, fmt.Errorf("%d values outside the histogram's range", dropped)
		}
	}
	out := loadgen.Summary(sum)
	// Censored values (lower bounds) add up; the least stays the least.
	for _, l := range ls {
		if l.Censored > 0 {
			if out.Censored == 0 || l.CensoredMin < out.CensoredMin {
				out.CensoredMin = l.CensoredMin
			}
			out.Censored += l.Censored
		}
	}
	return out, sum, nil
}

// mergeTimeline adds the shards' timelines second by second: counts from
// results.json, percentiles from the interval logs (.hlog), whose seconds it
// adds into merged logs. Second t of each shard is second t of its own
// window: the shards' windows differ by their start spread (bounded by
// MaxStartSpread in a valid cell). Without every shard's log the
// percentiles are left out, with a note.
func mergeTimeline(m *result.Cell, in []Input, cells []result.Cell, order []int, out string) ([]string, error) {
	secs := 0
	for _, i := range order {
		secs = max(secs, len(cells[i].Timeline))
	}
	m.Timeline = make([]result.Second, secs)
	for t := range m.Timeline {
		m.Timeline[t].T = t
	}
	for _, i := range order {
		for _, s := range cells[i].Timeline {
			if s.T < 0 || s.T >= secs {
				continue
			}
			ms := &m.Timeline[s.T]
			ms.Requests += s.Requests
			ms.Errors += s.Errors
			for k, v := range s.ErrorKind {
				if ms.ErrorKind == nil {
					ms.ErrorKind = map[string]int64{}
				}
				ms.ErrorKind[k] += v
			}
		}
	}
	// Per class, the merged interval log; per second, all classes together.
	all := make([]*hdr.Histogram, secs)
	for t := range all {
		all[t] = loadgen.NewHistogram()
	}
	var notes []string
	var errs []error
	for _, cl := range m.Classes {
		intervals, err := readLogs(in, cells, order, cl.Name)
		if err != nil {
			notes = append(notes, fmt.Sprintf("timeline percentiles left out: %v", err))
			return notes, nil
		}
		for t, h := range intervals {
			if t < secs {
				all[t].Merge(h)
			}
		}
		name := m.ID + "." + loadgen.FileSafe(cl.Name) + ".hlog"
		if err := writeLog(filepath.Join(out, name), m, cl.Name, intervals); err != nil {
			errs = append(errs, err)
			continue
		}
		addFile(m, "hlog:"+cl.Name, name)
	}
	for t, h := range all {
		if h.TotalCount() > 0 {
			m.Timeline[t].P50 = round3(float64(h.ValueAtQuantile(50)) / 1000)
			m.Timeline[t].P99 = round3(float64(h.ValueAtQuantile(99)) / 1000)
		}
	}
	return notes, errors.Join(errs...)
}

// readLogs reads class's interval log of every shard and adds them interval
// by interval.
func readLogs(in []Input, cells []result.Cell, order []int, class string) ([]*hdr.Histogram, error) {
	var sum []*hdr.Histogram
	for _, i := range order {
		f := cells[i].Files["hlog:"+class]
		if f == "" {
			return nil, fmt.Errorf("shard %s has no interval log of class %s", Name(cells[i].Shards[0]), class)
		}
		file, err := os.Open(filepath.Join(in[i].Dir, f))
		if err != nil {
			return nil, err
		}
		r := hdr.NewHistogramLogReader(bufio.NewReader(file))
		for t := 0; ; t++ {
			h, err := r.NextIntervalHistogram()
			if err != nil && !errors.Is(err, io.EOF) {
				file.Close()
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if h == nil {
				break
			}
			if t == len(sum) {
				sum = append(sum, loadgen.NewHistogram())
				sum[t].SetStartTimeMs(h.StartTimeMs())
			}
			sum[t].Merge(h)
			sum[t].SetStartTimeMs(min(sum[t].StartTimeMs(), h.StartTimeMs()))
			sum[t].SetEndTimeMs(max(sum[t].EndTimeMs(), h.EndTimeMs()))
		}
		file.Close()
	}
	return sum, nil
}

// writeLog writes the merged interval log of one class.
func writeLog(path string, m *result.Cell, class string, intervals []*hdr.Histogram) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	w := hdr.NewHistogramLogWriter(bw)
	var startMs int64 = math.MaxInt64
	for _, h := range intervals {
		startMs = min(startMs, h.StartTimeMs())
	}
	if len(intervals) == 0 {
		startMs = 0
	}
	baseMs := startMs - startMs%1000
	w.SetBaseTime(baseMs)
	for _, err2 := range []error{
		w.OutputLogFormatVersion(),
		w.OutputComment(fmt.Sprintf("[concbench merge: cell %s, class %s, %g req/s offered by %d shards; response time from intended send, in microseconds; Interval_Max in seconds]",
			m.ID, loadgen.FileSafe(class), m.Rate, len(m.Shards))),
		w.OutputStartTime(startMs),
		w.OutputBaseTime(baseMs),
		w.OutputLegend(),
	} {
		err = cmpErr(err, err2)
	}
	for _, h := range intervals {
		err = cmpErr(err, w.OutputIntervalHistogram(h))
	}
	err = cmpErr(err, bw.Flush())
	return cmpErr(err, f.Close())
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func addFile(c *result.Cell, kind, path string) {
	if c.Files == nil {
		c.Files = map[string]string{}
	}
	c.Files[kind] = path
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
