package reports

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
)

// File names written into the results directory besides the charts.
const (
	HTMLFile     = "report.html"
	MarkdownFile = "summary.md"
)

// Write renders run into dir (its results directory): every chart as a PNG,
// summary.md and report.html, which links the PNGs and the cells' files by
// relative paths. Each file is replaced atomically; report.html is written
// last, so a page never points at charts that were not written.
func Write(dir string, run *result.Run) error {
	r, err := Build(run)
	if err != nil {
		return err
	}
	_, err = r.Write(dir)
	return err
}

// Write renders the report into dir and returns the names of the files it
// wrote, charts first.
func (r *Report) Write(dir string) ([]string, error) {
	pngs := make([][]byte, len(r.Charts))
	errs := make([]error, len(r.Charts))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, c := range r.Charts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pngs[i], errs[i] = plot.RenderPNG(c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var names []string
	for i, c := range r.Charts {
		if err := result.WriteFileAtomic(filepath.Join(dir, c.File), pngs[i]); err != nil {
			return names, err
		}
		names = append(names, c.File)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		return names, err
	}
	if err := result.WriteFileAtomic(filepath.Join(dir, MarkdownFile), md.Bytes()); err != nil {
		return names, err
	}
	names = append(names, MarkdownFile)
	var page bytes.Buffer
	if err := r.WriteHTML(&page, dir); err != nil {
		return names, fmt.Errorf("%s: %w", HTMLFile, err)
	}
	if err := result.WriteFileAtomic(filepath.Join(dir, HTMLFile), page.Bytes()); err != nil {
		return names, err
	}
	return append(names, HTMLFile), nil
}
