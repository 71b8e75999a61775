package servers

import "testing"

// wrkRequest is what wrk sends for /plain.
var wrkRequest = []byte("GET /plain HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")

func BenchmarkStrictScan(b *testing.B) {
	for _, bc := range []struct {
		name string
		scan func(*strictConn, []byte) (int, error)
	}{
		{"line", (*strictConn).scan},
		{"byte", byteScan},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &strictConn{start: true}
			b.SetBytes(int64(len(wrkRequest)))
			for b.Loop() {
				if _, err := bc.scan(c, wrkRequest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
