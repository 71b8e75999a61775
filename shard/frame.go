package shard

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/concbench/concbench/result"
)

// FramePrefix starts the one line on stdout that carries a shard's results
// directory (Emit), so that standard tooling collects it: `kubectl logs` of a
// Job's pods, or any log shipper. The line is
//
//	concbench-results v1 SHARD CELL BASE64
//
// where BASE64 is a gzipped tar of the directory's regular files (it holds
// no subdirectories). Everything else on stdout is ignored by Collect.
const FramePrefix = "concbench-results v1 "

// maxFrame bounds one frame line when reading (64 MiB of base64): a shard's
// results are a few hundred kilobytes; the bound only stops a runaway line.
const maxFrame = 64 << 20

// Emit writes dir as one frame line to w.
func Emit(w io.Writer, dir string, s result.Shard) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	cellID := ""
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.Name(), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
		if e.Name() == result.FileName {
			if r, err := result.Load(dir); err == nil && len(r.Cells) == 1 {
				cellID = r.Cells[0].ID
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s %s %s\n", FramePrefix, Name(s), cellID, base64.StdEncoding.EncodeToString(buf.Bytes()))
	return err
}

// Collect reads frame lines from r (logs: other lines are skipped, as are
// prefixes such as kubectl's --prefix "[pod/NAME/CONTAINER] ") and unpacks
// each into its own directory under into, named after its shard. It returns
// the directories in the order read. A shard seen twice (a retried pod) is
// an error: which one to keep is the user's call.
func Collect(r io.Reader, into string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxFrame)
	var dirs []string
	seen := map[string]bool{}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		i := strings.Index(text, FramePrefix)
		if i < 0 {
			continue
		}
		f := strings.Fields(text[i+len(FramePrefix):])
		if len(f) != 3 {
			return dirs, fmt.Errorf("line %d: a %q line with %d fields; want SHARD CELL BASE64", line, strings.TrimSpace(FramePrefix), len(f))
		}
		name, cell, data := f[0], f[1], f[2]
		key := cell + " " + name
		if seen[key] {
			return dirs, fmt.Errorf("line %d: shard %s of %s seen twice (a retried pod?): collect from one attempt's logs", line, name, cell)
		}
		seen[key] = true
		dir := filepath.Join(into, fmt.Sprintf("%s.shard%s", cell, strings.ReplaceAll(name, "/", "of")))
		if err := unpack(data, dir); err != nil {
			return dirs, fmt.Errorf("line %d: shard %s: %w", line, name, err)
		}
		dirs = append(dirs, dir)
	}
	if err := sc.Err(); err != nil {
		return dirs, err
	}
	return dirs, nil
}

// unpack writes a frame's files into dir.
func unpack(data, dir string) error {
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// Flat files only: no path may leave dir.
		if h.Typeflag != tar.TypeReg || h.Name != filepath.Base(h.Name) || h.Name == ".." {
			return fmt.Errorf("unexpected entry %q in a results frame", h.Name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxFrame))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, h.Name), b, 0o644); err != nil {
			return err
		}
	}
}
