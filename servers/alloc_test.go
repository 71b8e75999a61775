//go:build !race

package servers

import (
	"runtime/metrics"
	"testing"

	"github.com/concbench/concbench/workloads"
)

// The per-request paths every model shares must not allocate.
func TestSharedHotPathsDoNotAllocate(t *testing.T) {
	s := NewStats("test")
	c := &strictConn{start: true}
	req := []byte("GET /plain HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
	sample := []metrics.Sample{{Name: metricThreads}}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Stats.Begin+End", func() { s.Begin(); s.End(workloads.RoutePlain, 200) }},
		{"strictConn.scan", func() {
			if _, err := c.scan(req); err != nil {
				t.Fatal(err)
			}
		}},
		{"goThreads", func() { goThreads(sample) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per run; want 0", tc.name, n)
		}
	}
}
