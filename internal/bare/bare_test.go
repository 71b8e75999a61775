package bare

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/servers/goroutine"
	"github.com/concbench/concbench/servers/thread"
)

// TestSameBytesAsPlain: each bare server answers exactly what the models on
// its library answer to GET /plain (the Date value aside), twice on one
// keep-alive connection, so the benchmark compares the same work.
func TestSameBytesAsPlain(t *testing.T) {
	cfg := servers.Config{Settings: launch.Settings{Addr: "127.0.0.1:0"}}
	for _, tc := range []struct {
		lib   string
		model func() (servers.Server, error)
	}{
		{"nethttp", func() (servers.Server, error) { return goroutine.New(cfg) }},
		{"fasthttp", func() (servers.Server, error) { return thread.New(cfg) }},
		{"gnet", func() (servers.Server, error) { return eventloop.New(cfg) }},
	} {
		t.Run(tc.lib, func(t *testing.T) {
			m, err := tc.model()
			if err != nil {
				t.Fatal(err)
			}
			want := answers(t, func(ctx context.Context, ready func(net.Addr)) error { return m.Serve(ctx, ready) })
			got := answers(t, func(ctx context.Context, ready func(net.Addr)) error {
				return Serve(ctx, tc.lib, "127.0.0.1:0", ready)
			})
			if !bytes.Equal(got, want) {
				t.Errorf("bare %s answered\n%q\nwant (the model's)\n%q", tc.lib, got, want)
			}
		})
	}
}

var dateValue = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// answers starts serve, sends two GET /plain on one connection and returns
// both raw answers with the Date values blanked.
func answers(t *testing.T, serve func(context.Context, func(net.Addr)) error) []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := serve(ctx, func(a net.Addr) { addrc <- a }); err != nil {
			t.Error(err)
			close(addrc)
		}
	})
	defer wg.Wait()
	defer cancel()
	addr, ok := <-addrc
	if !ok {
		t.FailNow()
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var all []byte
	for range 2 {
		length := -1
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("reading the answer after %q: %v", all, err)
			}
			all = append(all, line...)
			if k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte(": ")); ok && string(k) == "Content-Length" {
				length, _ = strconv.Atoi(string(v))
			}
			if string(line) == "\r\n" {
				break
			}
		}
		if length < 0 {
			t.Fatalf("no Content-Length in %q", all)
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		all = append(all, body...)
	}
	return dateValue.ReplaceAll(all, []byte("Date: -\r"))
}
