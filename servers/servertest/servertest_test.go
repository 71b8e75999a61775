package servertest

import (
	"bufio"
	"net/url"
	"strings"
	"testing"

	"github.com/concbench/concbench/workloads"
)

// TestCasesMatchWorkloads checks the conformance table against the route
// table itself, in process: a failure here means the table and workloads
// disagree, not that a model is wrong.
func TestCasesMatchWorkloads(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Cases() {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		u, err := url.ParseRequestURI(c.Target)
		if err != nil {
			t.Errorf("%s: target %q: %v", c.Name, c.Target, err)
			continue
		}
		var resp workloads.Response
		req, perr := workloads.Parse(c.Method, u.Path, u.RawQuery)
		if perr != nil {
			resp = workloads.ErrorResponse(perr)
		} else {
			resp = workloads.RunBlocking(req)
		}
		if resp.Status != c.Status || string(resp.Body) != c.Body {
			t.Errorf("%s: workloads answers %s %s with %d %q; the table wants %d %q", c.Name, c.Method, c.Target, resp.Status, resp.Body, c.Status, c.Body)
		}
		if got := c.Header["Content-Type"]; got != resp.ContentType {
			t.Errorf("%s: table Content-Type %q; workloads %q", c.Name, got, resp.ContentType)
		}
		if got := c.Header["Allow"]; got != resp.Allow {
			t.Errorf("%s: table Allow %q; workloads %q", c.Name, got, resp.Allow)
		}
		if _, ok := c.Header["Retry-After"]; ok != (resp.RetryAfter > 0) {
			t.Errorf("%s: table Retry-After %v; workloads %d", c.Name, ok, resp.RetryAfter)
		}
	}
}

func TestRequest(t *testing.T) {
	for _, tt := range []struct {
		method, target string
		header         []string
		want           string
	}{
		{"GET", "/plain", nil, "GET /plain HTTP/1.1\r\nHost: concbench.test\r\n\r\n"},
		{"GET", "/io?ms=1", []string{"Connection: close"}, "GET /io?ms=1 HTTP/1.1\r\nHost: concbench.test\r\nConnection: close\r\n\r\n"},
		{"POST", "/plain", nil, "POST /plain HTTP/1.1\r\nHost: concbench.test\r\nContent-Length: 0\r\n\r\n"},
	} {
		if got := Request(tt.method, tt.target, tt.header...); got != tt.want {
			t.Errorf("Request(%q, %q, %q) = %q; want %q", tt.method, tt.target, tt.header, got, tt.want)
		}
	}
}

func TestReadResponse(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: concbench\r\n\r\nok\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
	br := bufio.NewReader(strings.NewReader(raw))
	for _, want := range []struct {
		status int
		body   string
		close  bool
	}{{200, "ok\n", false}, {404, "no", true}} {
		resp, body, err := ReadResponse(br)
		if err != nil || resp.StatusCode != want.status || body != want.body || resp.Close != want.close {
			t.Fatalf("ReadResponse = %v %q (close %v), %v; want %d %q (close %v)", resp, body, resp != nil && resp.Close, err, want.status, want.body, want.close)
		}
	}
	if _, _, err := ReadResponse(br); err == nil {
		t.Errorf("ReadResponse after the last answer: nil error; want EOF")
	}
}
