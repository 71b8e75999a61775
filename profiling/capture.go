package profiling

import (
	"bufio"
	"context"
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

// captureMargin bounds a capture beyond the time it profiles.
const captureMargin = 20 * time.Second

// Capture is the capture of one cell's profiles, under way in the background.
// Its methods are safe for concurrent use; Wait is called once.
type Capture struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	client *http.Client

	mu    sync.Mutex // guards files and notes
	files map[string]string
	notes []string
}

// target is a process to profile: the server itself (child -1) or a
// cluster child through the supervisor's proxy.
type target struct {
	child int
	base  string // URL prefix of its /debug/pprof/
}

// Start starts capturing kinds from the server at pprofAddr for the
// window that starts warmup from now and lasts dur. children > 0 profiles each
// of that many cluster children instead of the server process. Files are
// written to dir. It never fails: what cannot be captured becomes a note.
func Start(ctx context.Context, dir, cell, pprofAddr string, children int, kinds []Kind, warmup, dur time.Duration) *Capture {
	ctx, cancel := context.WithCancel(ctx)
	pr := &Capture{
		cancel: cancel,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}},
		files:  map[string]string{},
	}
	targets := []target{{child: -1, base: "http://" + pprofAddr}}
	if children > 0 {
		targets = targets[:0]
		for i := range children {
			targets = append(targets, target{child: i, base: "http://" + pprofAddr + "/child/" + strconv.Itoa(i)})
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
			case CPU:
				path = "/debug/pprof/profile?seconds=" + strconv.Itoa(whole)
			case Trace:
				path = "/debug/pprof/trace?seconds=" + strconv.FormatFloat(dur.Seconds(), 'f', -1, 64)
				span = dur
			case Mutex, Block:
				path = "/debug/pprof/" + string(k) + "?seconds=" + strconv.Itoa(whole)
			case Heap, Goroutine:
				path = "/debug/pprof/" + string(k)
				at, span = end, 0
			}
			pr.wg.Go(func() {
				if err := pr.capture(ctx, dir, cell, t, k, path, at, span); err != nil {
					what := string(k) + " profile"
					if k == Trace {
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
func (pr *Capture) capture(ctx context.Context, dir, cell string, t target, kind Kind, path string, at time.Time, span time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(time.Until(at)):
	}
	ctx, cancel := context.WithTimeout(ctx, span+captureMargin)
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
	name := fileName(cell, kind, t.child)
	final := filepath.Join(dir, name)
	tmp := final + ".part"
	if err := save(tmp, resp.Body, kind); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	pr.mu.Lock()
	pr.files[FileKind(kind, t.child)] = name
	pr.mu.Unlock()
	return nil
}

// save writes body to path and checks that it is what was asked for: a
// profile that github.com/google/pprof parses, or a runtime/trace.
func save(path string, body io.Reader, kind Kind) error {
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
	if kind == Trace {
		return CheckTrace(path)
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

// CheckTrace checks that path starts as a runtime/trace file does ("go 1.NN trace").
func CheckTrace(path string) error {
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

func (pr *Capture) note(s string) {
	pr.mu.Lock()
	pr.notes = append(pr.notes, s)
	pr.mu.Unlock()
}

// Wait waits for every capture (each bounded in time; cancelled with the run's
// context) and returns the files saved and a note per failure, sorted.
func (pr *Capture) Wait() (files map[string]string, notes []string) {
	pr.wg.Wait()
	pr.cancel()
	pr.client.CloseIdleConnections()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	slices.Sort(pr.notes)
	return pr.files, pr.notes
}
