package runner

// Profiling a cell: with Options.Profiles set, every server is started with
// `--pprof-addr 127.0.0.1:0` (it prints the bound address before its listening
// line) and, during the cell's measured window, the orchestrator downloads
// from that port:
//
//   - cpu and trace: /debug/pprof/profile and /debug/pprof/trace for the
//     window (the CPU profile in whole seconds, at least one, not past the
//     window when it is longer than a second);
//   - mutex and block: their delta profiles over the same seconds (contention
//     during the window, not since the server started); the server enables
//     them with `serve --profile-rates` only when asked, since they cost;
//   - heap and goroutine: snapshots at the window's end.
//
// A cluster server is profiled child by child through its supervisor's
// /child/I/debug/pprof/ proxy. Files go beside the results as
// CELL.KIND.pprof (CELL.trace), CELL.childI.KIND.pprof for cluster children,
// listed in Cell.Files as "profile:KIND" ("profile:childI:KIND"). A capture
// that fails is a note in the cell's reasons, never a failed cell or run.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// ProfileKind is a profile a run can capture from every cell's server.
type ProfileKind string

// The profile kinds.
const (
	ProfileCPU       ProfileKind = "cpu"
	ProfileHeap      ProfileKind = "heap"
	ProfileGoroutine ProfileKind = "goroutine"
	ProfileMutex     ProfileKind = "mutex"
	ProfileBlock     ProfileKind = "block"
	ProfileTrace     ProfileKind = "trace"
)

// ProfileKinds lists every kind, in the order ParseProfiles keeps.
var ProfileKinds = []ProfileKind{ProfileCPU, ProfileHeap, ProfileGoroutine, ProfileMutex, ProfileBlock, ProfileTrace}

// ParseProfiles parses a comma-separated list of kinds ("cpu,heap,trace", or
// "all"). An empty list is no profiling.
func ParseProfiles(s string) ([]ProfileKind, error) {
	var out []ProfileKind
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case f == "all":
			return slices.Clone(ProfileKinds), nil
		case !slices.Contains(ProfileKinds, ProfileKind(f)):
			names := make([]string, len(ProfileKinds))
			for i, k := range ProfileKinds {
				names[i] = string(k)
			}
			return nil, fmt.Errorf("unknown profile %q (one of %s, or all)", f, strings.Join(names, ", "))
		case slices.Contains(out, ProfileKind(f)):
			return nil, fmt.Errorf("profile %q is listed twice", f)
		}
		out = append(out, ProfileKind(f))
	}
	slices.SortFunc(out, func(a, b ProfileKind) int {
		return slices.Index(ProfileKinds, a) - slices.Index(ProfileKinds, b)
	})
	return out, nil
}

// needsRates reports whether kinds include a profile the server records only
// with `serve --profile-rates`.
func needsRates(kinds []ProfileKind) bool {
	return slices.Contains(kinds, ProfileMutex) || slices.Contains(kinds, ProfileBlock)
}

// ProfileFileKind is the Cell.Files key of a profile: "profile:cpu", or
// "profile:child1:cpu" for cluster child 1 (child < 0: the server process).
func ProfileFileKind(kind ProfileKind, child int) string {
	if child < 0 {
		return "profile:" + string(kind)
	}
	return "profile:child" + strconv.Itoa(child) + ":" + string(kind)
}

// profileFileName is the file a profile of cell is saved in.
func profileFileName(cell string, kind ProfileKind, child int) string {
	name := cell
	if child >= 0 {
		name += ".child" + strconv.Itoa(child)
	}
	if kind == ProfileTrace {
		return name + ".trace"
	}
	return name + "." + string(kind) + ".pprof"
}

// profileCaptureMargin bounds a capture beyond the time it profiles.
const profileCaptureMargin = 20 * time.Second

// profiling is the capture of one cell's profiles, under way in the background.
type profiling struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	client *http.Client

	mu    sync.Mutex // guards files and notes
	files map[string]string
	notes []string
}

// profileTarget is a process to profile: the server itself (child -1) or a
// cluster child through the supervisor's proxy.
type profileTarget struct {
	child int
	base  string // URL prefix of its /debug/pprof/
}

// startProfiling starts capturing kinds from the server at pprofAddr for the
// window that starts warmup from now and lasts dur. children > 0 profiles each
// of that many cluster children instead of the server process. Files are
// written to dir. It never fails: what cannot be captured becomes a note.
func startProfiling(ctx context.Context, dir, cell, pprofAddr string, children int, kinds []ProfileKind, warmup, dur time.Duration) *profiling {
	ctx, cancel := context.WithCancel(ctx)
	pr := &profiling{
		cancel: cancel,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}},
		files:  map[string]string{},
	}
	targets := []profileTarget{{child: -1, base: "http://" + pprofAddr}}
	if children > 0 {
		targets = targets[:0]
		for i := range children {
			targets = append(targets, profileTarget{child: i, base: "http://" + pprofAddr + "/child/" + strconv.Itoa(i)})
		}
	}
	start := time.Now().Add(warmup)
	end := start.Add(dur)
	// Integer seconds for the endpoints that take only those.
	whole := max(int(dur/time.Second), 1)
	for _, t := range targets {
		for _, k := range kinds {
			var path string
			at, span := start, time.Duration(whole)*time.Second
			switch k {
			case ProfileCPU:
				path = "/debug/pprof/profile?seconds=" + strconv.Itoa(whole)
			case ProfileTrace:
				path = "/debug/pprof/trace?seconds=" + strconv.FormatFloat(dur.Seconds(), 'f', -1, 64)
				span = dur
			case ProfileMutex, ProfileBlock:
				path = "/debug/pprof/" + string(k) + "?seconds=" + strconv.Itoa(whole)
			case ProfileHeap, ProfileGoroutine:
				path = "/debug/pprof/" + string(k)
				at, span = end, 0
			}
			pr.wg.Go(func() {
				if err := pr.capture(ctx, dir, cell, t, k, path, at, span); err != nil {
					what := string(k) + " profile"
					if k == ProfileTrace {
						what = "trace"
					}
					if t.child >= 0 {
						what += fmt.Sprintf(" of child %d", t.child)
					}
					pr.note(fmt.Sprintf("profiling: %s not captured: %v", what, err))
				}
			})
		}
	}
	return pr
}

// capture waits until at, downloads path (which takes span) and saves it.
func (pr *profiling) capture(ctx context.Context, dir, cell string, t profileTarget, kind ProfileKind, path string, at time.Time, span time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(time.Until(at)):
	}
	ctx, cancel := context.WithTimeout(ctx, span+profileCaptureMargin)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", t.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := pr.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	name := profileFileName(cell, kind, t.child)
	final := filepath.Join(dir, name)
	tmp := final + ".part"
	if err := saveProfile(tmp, resp.Body, kind); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	pr.mu.Lock()
	pr.files[ProfileFileKind(kind, t.child)] = name
	pr.mu.Unlock()
	return nil
}

// saveProfile writes body to path and checks that it is what was asked for: a
// profile that github.com/google/pprof parses, or a runtime/trace.
func saveProfile(path string, body io.Reader, kind ProfileKind) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if kind == ProfileTrace {
		return checkTrace(path)
	}
	f, err = os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := profile.Parse(f); err != nil {
		return fmt.Errorf("not a profile: %w", err)
	}
	return nil
}

// checkTrace checks the header of a runtime/trace file ("go 1.NN trace").
func checkTrace(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(bufio.NewReader(f), head)
	if !strings.HasPrefix(string(head[:n]), "go 1.") {
		return fmt.Errorf("not a runtime trace (starts %q)", head[:n])
	}
	return nil
}

func (pr *profiling) note(s string) {
	pr.mu.Lock()
	pr.notes = append(pr.notes, s)
	pr.mu.Unlock()
}

// wait waits for every capture (each bounded in time; cancelled with the run's
// context) and returns the files saved and a note per failure, sorted.
func (pr *profiling) wait() (files map[string]string, notes []string) {
	pr.wg.Wait()
	pr.cancel()
	pr.client.CloseIdleConnections()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	slices.Sort(pr.notes)
	return pr.files, pr.notes
}

// ReadProfile parses a pprof profile file (gzipped or not).
func ReadProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return p, nil
}

// ReadProfiles parses pprof profile files and merges them, e.g. a cluster's
// children's CPU profiles.
func ReadProfiles(paths ...string) (*profile.Profile, error) {
	if len(paths) == 0 {
		return nil, errors.New("no profile")
	}
	ps := make([]*profile.Profile, 0, len(paths))
	for _, p := range paths {
		pp, err := ReadProfile(p)
		if err != nil {
			return nil, err
		}
		ps = append(ps, pp)
	}
	if len(ps) == 1 {
		return ps[0], nil
	}
	return profile.Merge(ps)
}

// ProfilePaths returns the files of a cell's profiles of kind, relative to the
// results directory: the server's, or each cluster child's in child order.
func ProfilePaths(files map[string]string, kind ProfileKind) []string {
	if f, ok := files[ProfileFileKind(kind, -1)]; ok {
		return []string{f}
	}
	type childFile struct {
		child int
		path  string
	}
	var cs []childFile
	for k, f := range files {
		rest, ok := strings.CutPrefix(k, "profile:child")
		if !ok {
			continue
		}
		idx, kk, ok := strings.Cut(rest, ":")
		i, err := strconv.Atoi(idx)
		if ok && err == nil && kk == string(kind) {
			cs = append(cs, childFile{i, f})
		}
	}
	slices.SortFunc(cs, func(a, b childFile) int { return a.child - b.child })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.path
	}
	return out
}
