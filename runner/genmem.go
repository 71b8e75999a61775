package runner

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/concbench/concbench/procstat"
	"github.com/concbench/concbench/result"
)

// GenMemEvery is how often the generator's own memory is read during a cell.
const GenMemEvery = time.Second

// metricHeapLive is the live heap as of the last GC: what a leak grows, free
// of the garbage waiting for the next cycle that HeapAlloc would include.
const metricHeapLive = "/gc/heap/live:bytes"

// genMemSample is one reading of the generator process's memory.
type genMemSample struct {
	at        time.Time
	rss, heap int64
}

// readGenMem reads this process's RSS and live heap now.
func readGenMem() genMemSample {
	s := genMemSample{at: time.Now()}
	s.rss, _, _ = procstat.ReadSelf() // zero rather than no figure
	m := []metrics.Sample{{Name: metricHeapLive}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		s.heap = int64(m[0].Value.Uint64())
	}
	return s
}

// genMemSampler reads the generator's memory every GenMemEvery during a cell,
// so that a soak run can compare the start of a long window with its end.
// It keeps one small reading per second: an hour is 3600 of them (~115 kB).
type genMemSampler struct {
	stopc chan struct{}
	done  chan struct{}

	mu      sync.Mutex // guards samples
	samples []genMemSample
}

// startGenMem starts sampling. Call it before the attack: it collects garbage
// first, so that the first reading has a live heap (zero before the first GC)
// and holds nothing the previous cell left for the collector.
func startGenMem() *genMemSampler {
	g := &genMemSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	runtime.GC()
	g.samples = append(g.samples, readGenMem())
	go g.run()
	return g
}

func (g *genMemSampler) run() {
	defer close(g.done)
	t := time.NewTicker(GenMemEvery)
	defer t.Stop()
	for {
		select {
		case <-g.stopc:
			return
		case <-t.C:
			g.add(readGenMem())
		}
	}
}

func (g *genMemSampler) add(s genMemSample) {
	g.mu.Lock()
	g.samples = append(g.samples, s)
	g.mu.Unlock()
}

// stop ends the sampling and takes one last reading. Call it once.
func (g *genMemSampler) stop() {
	close(g.stopc)
	<-g.done
	g.add(readGenMem())
}

// window returns the readings at the start and the end of [start, end]: the
// last one at or before each (else the first one).
func (g *genMemSampler) window(start, end time.Time) result.Generator {
	g.mu.Lock()
	defer g.mu.Unlock()
	first, last := bracket(g.samples, func(s genMemSample) time.Time { return s.at }, start, end)
	if first < 0 {
		return result.Generator{}
	}
	a, b := g.samples[first], g.samples[last]
	return result.Generator{HeapStartBytes: a.heap, HeapEndBytes: b.heap, RSSStartBytes: a.rss, RSSEndBytes: b.rss}
}

// joinTimeline adds to each second of the timeline the generator's memory at
// its end: the last reading at or before it (none before the first reading).
func (g *genMemSampler) joinTimeline(tl []result.Second, start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	j := -1
	for i := range tl {
		end := start.Add(time.Duration(tl[i].T+1) * time.Second)
		for j+1 < len(g.samples) && !g.samples[j+1].at.After(end) {
			j++
		}
		if j >= 0 {
			tl[i].GeneratorRSSBytes, tl[i].GeneratorHeapBytes = g.samples[j].rss, g.samples[j].heap
		}
	}
}
