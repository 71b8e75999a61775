package eventloop_test

import (
	"testing"

	"github.com/concbench/concbench/servers"
)

// BenchmarkPlain measures keep-alive /plain round trips from parallel
// clients. Client and server share the machine and the client's allocations
// are counted too: a smoke figure, not a result.
func BenchmarkPlain(b *testing.B) {
	addr, _ := serve(b, newServer(b, servers.Config{}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := dial(b, addr)
		for pb.Next() {
			c.send(get("/plain"))
			if got, err := c.tryRead(); err != nil || got.status != 200 {
				b.Errorf("GET /plain = %d, %v", got.status, err)
				return
			}
		}
	})
}
