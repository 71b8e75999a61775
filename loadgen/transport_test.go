package loadgen

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRetryOnlyIdleReused: the fast transport sends a request a second time
// only when the server had closed its kept-alive connection while idle; a
// fresh connection closed before any answer is an error, not retried (a
// retry would hide the server's failure and double its work).
func TestRetryOnlyIdleReused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// serve handles one accepted connection.
		serve       func(c net.Conn)
		requests    int
		wantErr     bool // of the last request
		wantDials   int64
		wantRetries int64
	}{
		{
			name:      "fresh connection closed",
			serve:     func(c net.Conn) { c.Close() },
			requests:  1,
			wantErr:   true,
			wantDials: 1,
		},
		{
			// One answer with keep-alive, then the server closes its side
			// (FIN right after the answer, still reading, so no reset):
			// the second request, on the same connection, reads
			// end-of-file and goes again on a new one.
			name: "reused connection closed while idle",
			serve: func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				req.Body.Close()
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				c.(*net.TCPConn).CloseWrite()
				br.ReadString(0) // until the client closes
			},
			requests:    2,
			wantDials:   2,
			wantRetries: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go tc.serve(c)
				}
			}()
			base := &url.URL{Scheme: "http", Host: l.Addr().String()}
			rt := newFastTransport(base, 1, 5*time.Second, newFlight(1))
			defer rt.hc.CloseIdleConnections()
			var lastErr error
			for i := range tc.requests {
				req, _ := http.NewRequest("GET", base.String()+"/plain", nil)
				resp, err := rt.RoundTrip(req)
				lastErr = err
				if err == nil {
					resp.Body.Close()
				} else if i < tc.requests-1 {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if (lastErr != nil) != tc.wantErr {
				t.Errorf("last request error %v; want error %t", lastErr, tc.wantErr)
			}
			if d, r := rt.conns.dials.Load(), rt.retries.Load(); d != tc.wantDials || r != tc.wantRetries {
				t.Errorf("%d dials, %d retries; want %d, %d", d, r, tc.wantDials, tc.wantRetries)
			}
		})
	}
}
