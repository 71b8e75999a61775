package profiling

// Profiling the load generator itself: with runner.Options.GeneratorProfiles
// set, every cell profiles the process that runs the generator (the
// orchestrator, this process) during its measured window, the way the servers
// are profiled:
//
//   - cpu: runtime/pprof's CPU profile over the window;
//   - heap: the heap profile at the window's end, after a garbage collection
//     (as /debug/pprof/heap?gc=1 takes it), so that in-use figures are current;
//   - goroutine: the goroutines at the window's end;
//   - trace: runtime/trace over the window (`go tool trace`): what held the
//     generator's Ps when its hiccup meter woke late — a CPU profile only
//     shows where CPU went, not who waited.
//
// Files go beside the cell's as CELL.generator.KIND.pprof (a trace:
// CELL.generator.trace), listed in
// Cell.Files as "profile:generator:KIND". Two heap profiles of one long cell
// are not taken, but the heap profiles of two cells of different durations
// diff with `go tool pprof -diff_base`. A capture that fails is a note in the
// cell's reasons, never a failed cell. The CPU profiler builds its profile in
// this process's heap (about 1 MB over a 10-minute /plain cell, growing with
// the distinct stacks it sees): the generator's memory figures include it.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"time"
)

// GeneratorKinds are the kinds ParseGeneratorKinds accepts.
var GeneratorKinds = []Kind{CPU, Heap, Goroutine, Trace}

// ParseGeneratorKinds parses the kinds of --profile-generator: a
// comma-separated list of GeneratorKinds, or "all".
func ParseGeneratorKinds(s string) ([]Kind, error) {
	if strings.TrimSpace(s) == "all" {
		return slices.Clone(GeneratorKinds), nil
	}
	kinds, err := ParseKinds(s)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if !slices.Contains(GeneratorKinds, k) {
			names := make([]string, len(GeneratorKinds))
			for i, g := range GeneratorKinds {
				names[i] = string(g)
			}
			return nil, fmt.Errorf("profile %q is not taken of the generator (one of %s, or all)", k, strings.Join(names, ", "))
		}
	}
	return kinds, nil
}

// GeneratorFileKind is the Cell.Files key of a generator profile.
func GeneratorFileKind(kind Kind) string { return "profile:generator:" + string(kind) }

// generatorFileName is the file a generator profile of cell is saved in.
func generatorFileName(cell string, kind Kind) string {
	return fileName(cell+".generator", kind, -1)
}

// GeneratorCapture is the capture of the generator's profiles of one cell.
// Its methods are safe for concurrent use; Wait is called once.
type GeneratorCapture struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards files and notes
	files map[string]string
	notes []string
}

// StartGenerator starts profiling this process for the window that starts
// warmup from now and lasts dur; cancelling ctx (or calling wait) ends the
// CPU profile early and takes the snapshots at once. Files are written to dir.
func StartGenerator(ctx context.Context, dir, cell string, kinds []Kind, warmup, dur time.Duration) *GeneratorCapture {
	ctx, cancel := context.WithCancel(ctx)
	g := &GeneratorCapture{cancel: cancel, files: map[string]string{}}
	start := time.Now().Add(warmup)
	end := start.Add(dur)
	for _, k := range kinds {
		g.wg.Go(func() {
			if err := g.capture(ctx, dir, cell, k, start, end); err != nil {
				g.mu.Lock()
				g.notes = append(g.notes, fmt.Sprintf("profiling: generator %s profile not captured: %v", k, err))
				g.mu.Unlock()
			}
		})
	}
	return g
}

// capture takes one profile of kind: CPU from start to end (or to ctx's
// end), a snapshot at end for the others.
func (g *GeneratorCapture) capture(ctx context.Context, dir, cell string, kind Kind, start, end time.Time) error {
	wait := func(at time.Time) error {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
			return nil
		}
	}
	if kind == CPU || kind == Trace {
		if err := wait(start); err != nil {
			return err
		}
	} else {
		// A cell that ended early (stopped, or its attack failed) is still
		// worth a snapshot: take it now.
		_ = wait(end)
	}
	name := generatorFileName(cell, kind)
	final := filepath.Join(dir, name)
	tmp := final + ".part"
	if kind == Trace {
		// Streamed to its file: a trace held in the generator's heap would
		// grow it by megabytes a second and show in its memory figures.
		if err := traceTo(tmp, func() { _ = wait(end) }); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		return g.keep(tmp, final, name, kind)
	}
	var buf bytes.Buffer
	switch kind {
	case CPU:
		if err := pprof.StartCPUProfile(&buf); err != nil {
			return err // another CPU profile of this process is running
		}
		_ = wait(end) // stopped early with the cell: still a profile
		pprof.StopCPUProfile()
	case Heap:
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
			return err
		}
	default:
		p := pprof.Lookup(string(kind))
		if p == nil {
			return fmt.Errorf("no %s profile in this runtime", kind)
		}
		if err := p.WriteTo(&buf, 0); err != nil {
			return err
		}
	}
	if err := save(tmp, &buf, kind); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return g.keep(tmp, final, name, kind)
}

// keep renames a checked capture into place and lists it.
func (g *GeneratorCapture) keep(tmp, final, name string, kind Kind) error {
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	g.mu.Lock()
	g.files[GeneratorFileKind(kind)] = name
	g.mu.Unlock()
	return nil
}

// traceTo writes this process's runtime trace to path while during runs,
// and checks it.
func traceTo(path string, during func()) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return err // another trace of this process is running
	}
	during()
	trace.Stop()
	if err := f.Close(); err != nil {
		return err
	}
	return CheckTrace(path)
}

// Wait ends the captures (a CPU profile still running stops now; snapshots
// not yet due are taken now) and returns the files saved and a note per
// failure, sorted. Call it once the cell's attack is over.
func (g *GeneratorCapture) Wait() (files map[string]string, notes []string) {
	g.cancel()
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	slices.Sort(g.notes)
	return g.files, g.notes
}
