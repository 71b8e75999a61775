package eventloop_test

import (
	"testing"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/servertest"
)

// BenchmarkPlain measures keep-alive /plain round trips from parallel
// clients. Client and server share the machine and the client's allocations
// are counted too: a smoke figure, not a result.
func BenchmarkPlain(b *testing.B) {
	addr, _ := servertest.Serve(b, newServer(b, servers.Config{}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := servertest.NewClient(b, addr)
		for pb.Next() {
			c.Send(servertest.Request("GET", "/plain"))
			if got, err := c.TryRead(); err != nil || got.Status != 200 {
				b.Errorf("GET /plain = %d, %v", got.Status, err)
				return
			}
		}
	})
}
