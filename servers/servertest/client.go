package servertest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/stats"
)

// Serve is Start for a test that stops the server itself: stop cancels
// Serve's context and returns what Serve returned, waiting up to Timeout. It
// may be called from any goroutine and more than once (later calls return the
// first result); a cleanup calls it too and fails the test if Serve returned
// an error or did not return.
func Serve(t testing.TB, srv servers.Server) (addr string, stop func() error) {
	t.Helper()
	addr, cancel, served := run(t, srv)
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-served:
			case <-time.After(Timeout):
				t.Errorf("Serve did not return within %s of its context being cancelled", Timeout)
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve returned %v after its context was cancelled; want nil", err)
		}
	})
	return addr, stop
}

// Client is one raw HTTP/1.1 connection for tests that pipeline requests and
// read the answers in order. Conn is closed by a cleanup; R buffers what was
// read from it. Its methods must be called from the test's goroutine.
type Client struct {
	t    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// NewClient dials addr as Dial does (a deadline of Timeout, so a hung test
// fails instead of hanging).
func NewClient(t testing.TB, addr string) *Client {
	t.Helper()
	conn, br := Dial(t, addr)
	return &Client{t: t, Conn: conn, R: br}
}

// Answer is one response read off a connection.
type Answer struct {
	Status int
	Header http.Header
	Body   string
	// Close is whether the server announced it closes the connection.
	Close bool
}

// Send writes raw bytes: any number of whole or partial requests (see Request).
func (c *Client) Send(raw ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, strings.Join(raw, "")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Read reads the next answer, failing the test if there is none.
func (c *Client) Read() Answer {
	c.t.Helper()
	a, err := c.TryRead()
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return a
}

// TryRead reads the next answer, or returns why there is none (e.g. io.EOF
// once the server closed the connection).
func (c *Client) TryRead() (Answer, error) {
	resp, body, err := ReadResponse(c.R)
	if err != nil {
		return Answer{}, err
	}
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: body, Close: resp.Close}, nil
}

// RoundTrip sends a GET of target and reads its answer.
func (c *Client) RoundTrip(target string) Answer {
	c.t.Helper()
	c.Send(Request("GET", target))
	return c.Read()
}

// Snapshot decodes a /stats answer, failing the test unless it is a 200
// holding a stats.Snapshot.
func (a Answer) Snapshot(t testing.TB) stats.Snapshot {
	t.Helper()
	if a.Status != 200 {
		t.Fatalf("/stats status %d: %s", a.Status, a.Body)
	}
	var snap stats.Snapshot
	if err := json.Unmarshal([]byte(a.Body), &snap); err != nil {
		t.Fatalf("/stats body: %v\n%s", err, a.Body)
	}
	return snap
}
