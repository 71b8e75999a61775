package reports

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/concbench/concbench/reports/plot"
	"github.com/concbench/concbench/result"
	"github.com/concbench/concbench/units"
)

var update = flag.Bool("update", false, "regenerate testdata/run and the golden files")

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := writeFixture(fixtureDir); err != nil {
			fmt.Fprintln(os.Stderr, "regenerate fixture:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// fixtureCopy copies the committed results directory to a temporary one, so
// that reports are written beside the cells' files without touching testdata.
func fixtureCopy(t *testing.T) (string, *result.Run) {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(fixtureDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixtureDir, path)
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := result.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, run
}

func buildFixture(t *testing.T) *Report {
	t.Helper()
	run, err := result.Load(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name; on a mismatch it writes got beside
// it as name.actual. -update rewrites the golden file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	actual := path + ".actual"
	if bytes.Equal(got, want) {
		os.Remove(actual)
		return
	}
	if err := os.WriteFile(actual, got, 0o644); err != nil {
		t.Fatal(err)
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(the whole output is in %s; go test -update accepts it)", name, i+1, g, w, actual)
		}
	}
}

// TestWrite renders the fixture and checks every file: PNGs decode at their
// size and are not blank, the page parses and references only files that
// exist beside it.
func TestWrite(t *testing.T) {
	dir, run := fixtureCopy(t)
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	names, err := r.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(names), len(r.Charts)+2; got != want {
		t.Errorf("Write wrote %d files; want %d charts + summary.md + report.html", got, want)
	}
	if names[len(names)-1] != HTMLFile {
		t.Errorf("last file written = %s; want %s (the page last)", names[len(names)-1], HTMLFile)
	}
	for _, c := range r.Charts {
		t.Run(c.File, func(t *testing.T) {
			img := decodePNG(t, filepath.Join(dir, c.File))
			w, h := c.Size()
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Errorf("size %dx%d; want %dx%d (%.4g×%.4g in at %d dpi)", b.Dx(), b.Dy(), w, h, c.WidthIn, c.HeightIn, plot.DPI)
			}
			px := pixels(img)
			if v := lumaVariance(px); v < 200 {
				t.Errorf("pixel variance %.1f: the chart looks blank", v)
			}
			// Every series' colour is on the chart: the same colour for the
			// same model everywhere, and nothing left undrawn.
			keys := seriesKeys(c)
			cs := make([]color.RGBA, len(keys))
			for i, k := range keys {
				cs[i] = plot.RGBA(k)
			}
			for i, n := range countColors(px, cs) {
				if n < 20 {
					t.Errorf("%d pixels of %s's colour %s; want its line or markers drawn", n, keys[i], plot.Color(keys[i]))
				}
			}
		})
	}
	checkHTML(t, dir, r)
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte("| cpu-mix | 800 | goroutine |")) {
		t.Errorf("summary.md lacks the verdict row of goroutine in cpu-mix at 800 req/s")
	}
}

func seriesKeys(c *plot.Chart) []string {
	var keys []string
	for _, p := range c.Panels {
		for _, s := range p.Series {
			valid := slices.ContainsFunc(s.Points, func(p plot.Point) bool { return !p.Invalid })
			if !valid {
				if !slices.Contains(keys, plot.KeyInvalid) {
					keys = append(keys, plot.KeyInvalid)
				}
				continue
			}
			if !slices.Contains(keys, s.Key) {
				keys = append(keys, s.Key)
			}
		}
	}
	return keys
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// pixels returns the image's pixels as RGBA bytes, 4 per pixel (PNGs from
// vgimg decode as *image.RGBA or *image.NRGBA of an opaque image; anything
// else is converted).
func pixels(img image.Image) []uint8 {
	switch m := img.(type) {
	case *image.RGBA:
		return m.Pix
	case *image.NRGBA:
		return m.Pix
	}
	b := img.Bounds()
	out := make([]uint8, 0, 4*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			out = append(out, uint8(r>>8), uint8(g>>8), uint8(bl>>8), uint8(a>>8))
		}
	}
	return out
}

func lumaVariance(px []uint8) float64 {
	var sum, sq float64
	for i := 0; i+3 < len(px); i += 4 {
		l := 0.299*float64(px[i]) + 0.587*float64(px[i+1]) + 0.114*float64(px[i+2])
		sum += l
		sq += l * l
	}
	n := float64(len(px) / 4)
	m := sum / n
	return sq/n - m*m
}

// countColors counts the pixels within 6 levels of each colour.
func countColors(px []uint8, cs []color.RGBA) []int {
	near := func(a, b uint8) bool { return a-b <= 6 || b-a <= 6 }
	n := make([]int, len(cs))
	for i := 0; i+3 < len(px); i += 4 {
		r, g, b := px[i], px[i+1], px[i+2]
		if r == 255 && g == 255 && b == 255 {
			continue
		}
		for j, c := range cs {
			if near(r, c.R) && near(g, c.G) && near(b, c.B) {
				n[j]++
			}
		}
	}
	return n
}

// checkHTML parses report.html and checks what it references.
func checkHTML(t *testing.T, dir string, r *Report) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatalf("report.html does not parse: %v", err)
	}
	var imgs, links []string
	var scripts int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case n.Data == "img" && a.Key == "src":
					imgs = append(imgs, a.Val)
				case n.Data == "a" && a.Key == "href":
					links = append(links, a.Val)
				case a.Key == "src" || a.Key == "href":
					t.Errorf("<%s %s=%q>: the page must not load anything else", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "script" || n.Data == "link" || n.Data == "iframe" {
				scripts++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts > 0 {
		t.Errorf("report.html has %d script/link/iframe elements; want none (self-contained, no JavaScript)", scripts)
	}
	if len(imgs) != len(r.Charts) {
		t.Errorf("report.html shows %d images; want one per chart (%d)", len(imgs), len(r.Charts))
	}
	for _, ref := range append(imgs, links...) {
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") {
			t.Errorf("reference %q is not a relative path inside the results directory", ref)
			continue
		}
		if !fileExists(filepath.Join(dir, filepath.FromSlash(u.Path))) {
			t.Errorf("reference %q: no such file beside report.html", ref)
		}
	}
	for _, kind := range []string{".hgrm", ".hlog", ".pprof", ".bin", ".server.log"} {
		if !slices.ContainsFunc(links, func(l string) bool { return strings.HasSuffix(l, kind) }) {
			t.Errorf("report.html links no %s file", kind)
		}
	}
	if slices.Contains(links, "eventloop.redos.r400.2.cpu.pprof") {
		t.Errorf("report.html links eventloop.redos.r400.2.cpu.pprof, which the fixture lacks")
	}
}

// TestGolden pins the report's text: every computed sentence, the data series
// of every chart, summary.md and report.html.
func TestGolden(t *testing.T) {
	dir, run := fixtureCopy(t)
	r, err := Build(run)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "findings.golden", findingsText(r))
	golden(t, "charts.golden", chartsText(r))
	var md, page, table bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.md.golden", md.Bytes())
	if err := r.WriteHTML(&page, dir); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html.golden", page.Bytes())
	if err := Table(&table, run); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", table.Bytes())
}

func findingsText(r *Report) []byte {
	var b bytes.Buffer
	for _, c := range r.Charts {
		fmt.Fprintf(&b, "%s\n", c.File)
		for _, s := range c.Sentences {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	b.WriteString("\nleft out\n")
	for _, o := range r.Omitted {
		fmt.Fprintf(&b, "  %s: %s\n", o.Family, o.Reason)
	}
	b.WriteString("\ndiagnosis\n")
	for _, d := range r.Diagnoses {
		fmt.Fprintf(&b, "  [%s] %s: %s — %s\n", d.Kind, d.Model, d.Verdict, d.Hint)
		for _, e := range d.Evidence {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	b.WriteString("\nwhich model\n")
	for _, a := range r.Advice {
		fmt.Fprintf(&b, "  %s (%s) at %s → %q: %s\n", a.Scenario, a.Mix, units.Rate(a.Rate), a.Best, a.Text)
	}
	return b.Bytes()
}

func chartsText(r *Report) []byte {
	var b bytes.Buffer
	g := func(v float64) string { return fmt.Sprintf("%.4g", v) }
	for _, c := range r.Charts {
		w, h := c.Size()
		fmt.Fprintf(&b, "%s %dx%d %q\n", c.File, w, h, c.Title)
		for _, p := range c.Panels {
			fmt.Fprintf(&b, "  panel %q x=%q (log %t) y=%q (log %t)\n", p.Title, p.XLabel, p.XLog, p.YLabel, p.YLog)
			for _, s := range p.Series {
				fmt.Fprintf(&b, "    %s [%s]:", s.Name, s.Key)
				for _, pt := range s.Points {
					inv := ""
					if pt.Invalid {
						inv = " invalid"
					}
					fmt.Fprintf(&b, " (%s, %s [%s–%s]%s)", g(pt.X), g(pt.Y), g(pt.Lo), g(pt.Hi), inv)
				}
				b.WriteString("\n")
			}
			for _, m := range p.Marks {
				fmt.Fprintf(&b, "    mark %s %s at (%s, %s)\n", m.Key, m.Label, g(m.X), g(m.Y))
			}
		}
		var labels []string
		for _, e := range c.Legend {
			labels = append(labels, e.Label)
		}
		fmt.Fprintf(&b, "  legend: %s\n", strings.Join(labels, " | "))
	}
	return b.Bytes()
}

// TestSentencesQuoteTheFixture recomputes figures straight from the cells of
// results.json and checks that the sentences state them.
func TestSentencesQuoteTheFixture(t *testing.T) {
	r := buildFixture(t)
	// The median of two repetitions is their mean.
	med := func(model, scenario string, rate float64, f func(*result.Cell) float64) float64 {
		var vs []float64
		for _, c := range r.Run.Cells {
			if c.Model == model && c.Scenario == scenario && c.Rate == rate && c.Validity.Valid {
				vs = append(vs, f(&c))
			}
		}
		if len(vs) == 0 {
			t.Fatalf("no valid cell of %s %s %g", model, scenario, rate)
		}
		slices.Sort(vs)
		if len(vs)%2 == 0 {
			return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		return vs[len(vs)/2]
	}
	class := func(name string, svc bool, get func(result.Latency) float64) func(*result.Cell) float64 {
		return func(c *result.Cell) float64 {
			for _, cl := range c.Classes {
				if cl.Name == name {
					if svc {
						return get(cl.Service)
					}
					return get(cl.Response)
				}
			}
			return math.NaN()
		}
	}
	p99 := func(l result.Latency) float64 { return l.P99 }
	p50 := func(l result.Latency) float64 { return l.P50 }
	chart := func(file string) string {
		for _, c := range r.Charts {
			if c.File == file {
				return strings.Join(c.Sentences, " ")
			}
		}
		t.Fatalf("no chart %s", file)
		return ""
	}
	check := func(file, sentence string, figures ...string) {
		t.Helper()
		for _, f := range figures {
			if !strings.Contains(sentence, f) {
				t.Errorf("%s: %q\n  does not state %s", file, sentence, f)
			}
		}
	}

	hol := chart("hol-cpu-mix-cpu-mix-5.png")
	check("hol", hol,
		"eventloop: cheap-request p99 rose from "+units.Ms(med("eventloop", "cpu-mix", 200, class("plain", false, p99)))+
			" to "+units.Ms(med("eventloop", "cpu-mix-5", 200, class("plain", false, p99))),
		"from 1 % to 5 % of the mix at 200 req/s",
		"offload "+units.Ms(med("offload", "cpu-mix", 200, class("plain", false, p99)))+" → "+units.Ms(med("offload", "cpu-mix-5", 200, class("plain", false, p99))))

	redos := chart("redos.png")
	bt := func(n int) float64 {
		best := math.Inf(1)
		for _, m := range r.Models {
			best = math.Min(best, med(m, "redos", 400, class(fmt.Sprintf("bt%d", n), true, p50)))
		}
		return best
	}
	check("redos", redos, "Backtracking took "+units.Ms(bt(18))+" per request at n=18", units.Ms(bt(22))+" at n=22",
		units.Factor(math.Pow(bt(22)/bt(18), 0.25))+" per extra character", "RE2 was measured at n=22 only")

	pct := chart("percentiles-cpu-mix-plain.png")
	check("percentiles", pct, "At 200 req/s, plain (cheap) p99 ranged from",
		units.Ms(med("eventloop", "cpu-mix", 200, class("plain", false, p99)))+" (eventloop)")

	load := chart("load-cpu-mix.png")
	check("load", load, "eventloop 200 req/s", "offload 800 req/s", "goroutine 200 req/s", "goroutine got ",
		"eventloop's cheap-request p99 went from "+units.Ms(med("eventloop", "cpu-mix", 200, class("plain", false, p99))))

	mem := chart("cost-memory.png")
	threads := med("thread", "io-wait", 2000, func(c *result.Cell) float64 { return float64(c.Resources.PeakThreads) })
	check("cost", mem, "thread peaked at", units.Num(threads)+" OS threads")
}

func TestDiagnosis(t *testing.T) {
	r := buildFixture(t)
	fired := map[string][]string{}
	for _, d := range r.Diagnoses {
		fired[d.Kind] = append(fired[d.Kind], d.Model)
	}
	for kind, want := range map[string][]string{
		"loop-blocked":        {"eventloop", "cluster"},
		"pool-bottleneck":     {"offload"},
		"per-request-threads": {"thread"},
		"over-capacity":       {"eventloop"},
		"server-failed":       {"cluster"},
		"generator-bound":     {""},
	} {
		if got := fired[kind]; !slices.Equal(got, want) {
			t.Errorf("diagnosis %s fired for %q; want %q", kind, got, want)
		}
	}
	best := map[string]string{}
	for _, a := range r.Advice {
		best[a.Scenario] = a.Best
	}
	for _, sc := range []string{"cpu-mix", "cpu-mix-5", "redos", "block"} {
		if best[sc] == "eventloop" || best[sc] == "" {
			t.Errorf("best model for %s = %q; want a model whose loop was not blocked", sc, best[sc])
		}
	}
	// cluster.block.r200.1's server failed: the finding names it, never as
	// generator-bound, and cluster loses in block.
	for _, d := range r.Diagnoses {
		ev := strings.Join(d.Evidence, " ")
		switch {
		case d.Kind == "server-failed" && !strings.Contains(ev, "cluster.block.r200.1: the server failed: the server restarted 1 child process(es)"):
			t.Errorf("server-failed evidence %q", ev)
		case d.Kind == "generator-bound" && strings.Contains(ev, "cluster.block"):
			t.Errorf("generator-bound evidence names the cell whose server failed: %q", ev)
		}
	}
	for _, a := range r.Advice {
		if a.Scenario == "block" && !strings.HasSuffix(a.Text, " cluster did not keep up: its server failed in 1 of 2 repetitions.") {
			t.Errorf("block advice %q does not say cluster's server failed", a.Text)
		}
	}
	for _, row := range r.Verdict() {
		if row.Scenario == "block" && row.Model == "cluster" && row.Validity != "invalid: server failed in 1 rep of 2" {
			t.Errorf("verdict of cluster in block: %q", row.Validity)
		}
	}
}
