package servertest

import (
	"bufio"
	"net/http"
	"testing"
	"time"
)

// Edges checks the small wire behaviours every model must share (issue 12,
// §6): a Date header on every answer; "Expect: 100-continue" answered with
// 100 Continue before the body; an error answer after a HEAD still has its
// body; and paths with "..", "." or "//" answered as their clean form.
func Edges(t *testing.T, addr string) {
	t.Run("date", func(t *testing.T) {
		resp, _, err := Fetch(addr, Request("GET", "/plain"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
			t.Errorf("GET /plain: Date %q: %v; want an HTTP date", resp.Header.Get("Date"), err)
		}
	})
	t.Run("100-continue", func(t *testing.T) {
		conn, br := Dial(t, addr)
		write(t, conn, "GET /plain HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(Timeout))
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("after a header with Expect: 100-continue, read %q, %v; want %q", line, err, "HTTP/1.1 100 Continue\r\n")
		}
		if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
			t.Fatalf("100 Continue followed by %q, %v; want an empty line", blank, err)
		}
		write(t, conn, "hello"+Request("GET", "/healthz"))
		for _, want := range []string{"hello from concbench\n", "ok\n"} {
			resp, body := readAnswer(t, br, "after the body")
			if resp.StatusCode != 200 || body != want {
				t.Errorf("answer after 100 Continue = %d %q; want 200 %q", resp.StatusCode, body, want)
			}
		}
	})
	t.Run("error after HEAD", func(t *testing.T) {
		conn, _ := Dial(t, addr)
		write(t, conn, Request("HEAD", "/plain")+"this is not http\r\n\r\n")
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(Timeout))
		if _, err := http.ReadResponse(br, &http.Request{Method: "HEAD"}); err != nil {
			t.Fatalf("HEAD /plain: %v", err)
		}
		resp, body, err := ReadResponse(br)
		if err != nil {
			t.Fatalf("garbage after HEAD: %v", err)
		}
		if resp.StatusCode < 400 || body == "" {
			t.Errorf("garbage after HEAD = %d %q; want an error with its body", resp.StatusCode, body)
		}
	})
	t.Run("clean paths", func(t *testing.T) {
		for _, c := range []struct{ target, body string }{
			{"/plain/../healthz", "ok\n"},
			{"//plain", "hello from concbench\n"},
			{"/./plain", "hello from concbench\n"},
			{"/a/b/../../plain", "hello from concbench\n"},
		} {
			resp, body, err := Fetch(addr, Request("GET", c.target))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || body != c.body {
				t.Errorf("GET %s = %d %q; want 200 %q, as GET of its clean path", c.target, resp.StatusCode, body, c.body)
			}
		}
	})
}
