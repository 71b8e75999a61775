package servertest

import (
	"testing"

	"github.com/concbench/concbench/stats"
	"github.com/concbench/concbench/workloads"
)

// Order of a /plain relative to a long request, as PlainVersus reports it.
const (
	PlainFirst = "plain before it"
	PlainAfter = "plain after it"
)

// PlainVersus starts long on one connection and, once the server has
// certainly begun it, sends a /plain on another, and reports whether the
// /plain was answered before or after long completed (PlainFirst or
// PlainAfter). route is long's route. It judges by the server's own counters,
// not by clocks: the second connection pipelines /stats, /plain, /stats, which
// the server handles in that order. A first /stats that already counts long as
// completed proves the /plain came after it; a last /stats that does not count
// it yet proves the /plain came first.
//
// It is for event-loop models: the server has begun long once the /plain
// pipelined in front of it on the first connection is answered, since the loop
// handles a connection's requests in order and starts long right after writing
// that answer.
func PlainVersus(t testing.TB, addr, long string, route workloads.Route) string {
	t.Helper()
	a, b := NewClient(t, addr), NewClient(t, addr)
	a.Send(Request("GET", "/plain"), Request("GET", long))
	if got := a.Read(); got.Status != 200 {
		t.Fatalf("pipelined /plain: status %d", got.Status)
	}
	b.Send(Request("GET", "/stats"), Request("GET", "/plain"), Request("GET", "/stats"))
	before := b.Read().Snapshot(t).Completed[route.String()]
	if got := b.Read(); got.Status != 200 || got.Body != string(workloads.PlainBody) {
		t.Fatalf("/plain = %d %q", got.Status, got.Body)
	}
	after := b.Read().Snapshot(t).Completed[route.String()]
	if got := a.Read(); got.Status != 200 {
		t.Fatalf("%s: status %d: %s", long, got.Status, got.Body)
	}
	switch {
	case before == 1:
		return PlainAfter
	case after == 0:
		return PlainFirst
	}
	t.Fatalf("%s completed between two requests handled in one go (counts %d, %d)", long, before, after)
	return ""
}

// PlainAmidHeavy tells whether a /plain is answered while k copies of heavy
// run side by side: on a server whose threads are time-sliced (by the kernel,
// or by Go's scheduler at its coarser ~10 ms grain) each heavy request
// advances at 1/k of the CPU, so none finishes for about k times its length,
// and the /plain gets a turn long before; on one that runs them one after
// another, or on its only thread, it does not. heavy should be many
// scheduling slices long.
//
// It sends heavy on k connections and polls /stats on another until progress
// reports all k running; then it pipelines /plain and /stats there. It reports
// PlainFirst when that last /stats still counts all k running and none done,
// PlainAfter when one was done before then, or before all k ran at once.
// progress reads, from a snapshot, how many heavy requests are running and
// how many are done (the /stats asking counts in neither). It judges by the
// server's counters, not by clocks.
func PlainAmidHeavy(t testing.TB, addr, heavy string, k int, progress func(stats.Snapshot) (running, done int)) string {
	t.Helper()
	heavies := make([]*Client, k)
	for i := range heavies {
		heavies[i] = NewClient(t, addr)
		heavies[i].Send(Request("GET", heavy))
	}
	defer func() {
		for _, c := range heavies {
			if got := c.Read(); got.Status != 200 {
				t.Errorf("%s: status %d: %s", heavy, got.Status, got.Body)
			}
		}
	}()
	b := NewClient(t, addr)
	for {
		b.Send(Request("GET", "/stats"))
		running, done := progress(b.Read().Snapshot(t))
		if done > 0 {
			return PlainAfter
		}
		if running >= k {
			break
		}
	}
	b.Send(Request("GET", "/plain"), Request("GET", "/stats"))
	if got := b.Read(); got.Status != 200 || got.Body != string(workloads.PlainBody) {
		t.Fatalf("/plain = %d %q", got.Status, got.Body)
	}
	if running, done := progress(b.Read().Snapshot(t)); done > 0 || running < k {
		return PlainAfter
	}
	return PlainFirst
}
