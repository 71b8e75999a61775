package compare

import (
	"fmt"
	"strings"

	"golang.org/x/perf/benchunit"

	"github.com/concbench/concbench/result"
)

// Figure is one measured quantity that compare and export-bench read from a
// cell. Throughput, RSS and CPU belong to the whole cell; the response-time
// percentiles belong to one traffic class of it.
type Figure int

const (
	// Throughput is the cell's achieved rate: answers received per second (result.Cell.AchievedRPS).
	Throughput Figure = iota
	// P50, P99 and P999 are a class's response-time percentiles, counted from
	// each request's intended send time (result.Class.Response).
	P50
	P99
	P999
	// RSS is the server's peak resident set size (all processes for cluster).
	RSS
	// CPU is the server's CPU time per request.
	CPU

	numFigures
)

// Figures lists every figure in the order tables show them.
var Figures = []Figure{Throughput, P50, P99, P999, RSS, CPU}

type figureInfo struct {
	name  string // as written in --fail-on
	title string // table heading
	// perClass figures are read from each class of a cell, the others from the cell.
	perClass bool
	// higherIsBetter is true for throughput only.
	higherIsBetter bool
	// dispScale turns the stored value into the display base unit dispUnit
	// (seconds, bytes), which benchunit.Scale then prefixes (m, µ, Mi...).
	dispScale float64
	dispUnit  string
	class     benchunit.Class
	// benchUnit is the Go benchmark format unit export-bench writes, and
	// benchScale turns the stored value into it.
	benchUnit  string
	benchScale float64
}

// Stored values: latencies in ms, RSS in bytes, CPU in ms per 1k requests
// (= µs per request), throughput in requests per second.
var figureInfos = [numFigures]figureInfo{
	Throughput: {name: "throughput", title: "throughput (req/s)", higherIsBetter: true,
		dispScale: 1, class: benchunit.Decimal, benchUnit: "req/s", benchScale: 1},
	P50: {name: "p50", title: "p50 response time", perClass: true,
		dispScale: 1e-3, dispUnit: "s", class: benchunit.Decimal, benchUnit: "p50-ns", benchScale: 1e6},
	P99: {name: "p99", title: "p99 response time", perClass: true,
		dispScale: 1e-3, dispUnit: "s", class: benchunit.Decimal, benchUnit: "p99-ns", benchScale: 1e6},
	P999: {name: "p99.9", title: "p99.9 response time", perClass: true,
		dispScale: 1e-3, dispUnit: "s", class: benchunit.Decimal, benchUnit: "p99.9-ns", benchScale: 1e6},
	RSS: {name: "rss", title: "peak RSS",
		dispScale: 1, dispUnit: "B", class: benchunit.Binary, benchUnit: "rss-B", benchScale: 1},
	CPU: {name: "cpu", title: "server CPU time per request",
		dispScale: 1e-6, dispUnit: "s", class: benchunit.Decimal, benchUnit: "cpu-ns/req", benchScale: 1e3},
}

func (f Figure) info() *figureInfo { return &figureInfos[f] }

// String returns the figure's name as written in --fail-on: throughput, p50,
// p99, p99.9, rss or cpu.
func (f Figure) String() string {
	if f < 0 || f >= numFigures {
		return fmt.Sprintf("Figure(%d)", int(f))
	}
	return f.info().name
}

// PerClass reports whether the figure is read per traffic class (the
// response-time percentiles) rather than per cell.
func (f Figure) PerClass() bool { return f.info().perClass }

// HigherIsBetter reports whether a growth of the figure is an improvement.
func (f Figure) HigherIsBetter() bool { return f.info().higherIsBetter }

// Title is the figure's table heading, e.g. "p99 response time".
func (f Figure) Title() string { return f.info().title }

// ParseFigure returns the figure named s (see Figure.String).
func ParseFigure(s string) (Figure, bool) {
	for _, f := range Figures {
		if f.info().name == s {
			return f, true
		}
	}
	return 0, false
}

func figureNames() string {
	names := make([]string, len(Figures))
	for i, f := range Figures {
		names[i] = f.String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Format renders a value of the figure as stored in results.json (ms, bytes,
// ms per 1k requests, req/s) with an SI or binary prefix: "2.400ms",
// "45.00MiB", "123.4µs", "1.000k".
func (f Figure) Format(v float64) string {
	in := f.info()
	return benchunit.Scale(v*in.dispScale, in.class) + in.dispUnit
}

// cellValue reads a cell-level figure; ok is false when the cell did not
// measure it (no resource samples).
func (f Figure) cellValue(c *result.Cell) (v float64, ok bool) {
	switch f {
	case Throughput:
		return c.AchievedRPS, true
	case RSS:
		return float64(c.Resources.PeakRSSBytes), c.Resources.Samples > 0 && c.Resources.PeakRSSBytes > 0
	case CPU:
		return c.Resources.CPUPer1kReqMs, c.Resources.Samples > 0 && c.Requests > 0
	}
	return 0, false
}

// classValue reads a per-class figure; ok is false when the class got no
// answer, when the percentile was read from too few values to name a tail
// (result.MinSamples: with 50 values p99 = p99.9 = max), or when it is only
// a lower bound (censored requests): such figures do not compare.
func (f Figure) classValue(cl *result.Class) (v float64, ok bool) {
	l := cl.Response
	var q float64
	switch f {
	case P50:
		v, q = l.P50, 0.5
	case P99:
		v, q = l.P99, 0.99
	case P999:
		v, q = l.P999, 0.999
	default:
		return 0, false
	}
	if l.Count == 0 || !l.Enough(q) || l.LowerBound(v) {
		return 0, false
	}
	return v, true
}
