package servertest

import (
	"testing"

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
