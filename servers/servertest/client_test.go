package servertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concbench/concbench/workloads"
)

// TestClient pipelines two requests to a net/http server on loopback and
// reads both answers in order, then the EOF after Connection: close.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		_, _ = io.WriteString(w, "at "+r.URL.Path)
	}))
	defer srv.Close()
	c := NewClient(t, srv.Listener.Addr().String())
	c.Send(Request("GET", "/a"), Request("GET", "/b", "Connection: close"))
	for _, want := range []Answer{
		{Status: 200, Body: "at /a"},
		{Status: 200, Body: "at /b", Close: true},
	} {
		got := c.Read()
		if got.Status != want.Status || got.Body != want.Body || got.Close != want.Close || got.Header.Get("X-Path") != strings.TrimPrefix(want.Body, "at ") {
			t.Errorf("Read() = %d %q close=%t X-Path %q; want %d %q close=%t", got.Status, got.Body, got.Close, got.Header.Get("X-Path"), want.Status, want.Body, want.Close)
		}
	}
	if a, err := c.TryRead(); err == nil {
		t.Errorf("TryRead() after Connection: close = %+v; want an error", a)
	}
}

// TestItersFor: more time is more work, within the route's bounds.
func TestItersFor(t *testing.T) {
	short, long := ItersFor(time.Millisecond), ItersFor(100*time.Millisecond)
	if short < 1 || long <= short || long > workloads.MaxIters {
		t.Errorf("ItersFor(1ms) = %d, ItersFor(100ms) = %d; want 1 ≤ first < second ≤ %d", short, long, workloads.MaxIters)
	}
	if got := ItersFor(1000 * time.Hour); got != workloads.MaxIters {
		t.Errorf("ItersFor(1000h) = %d; want the cap %d", got, workloads.MaxIters)
	}
}
