package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/valyala/fasthttp"
)

// Transports of Config.Transport.
const (
	// TransportFastHTTP runs vegeta's attacker over fasthttp's HostClient,
	// plugged in as the http.Client's RoundTripper: vegeta still paces, picks
	// targets, times and reports every request. It is the default: pinned to
	// one core of the 2-core machine it was measured on (TestCeiling), it
	// sustained about twice the rate of net/http's transport (medians 27–29k
	// against 12–17k req/s) at half the CPU per request (25–30 µs against
	// 44–57 µs).
	TransportFastHTTP = "fasthttp"
	// TransportNetHTTP is vegeta's own net/http transport.
	TransportNetHTTP = "nethttp"
	// DefaultTransport is the transport used when Config.Transport is empty.
	DefaultTransport = TransportFastHTTP
)

// client is an http.Client for vegeta.Client plus a way to close its idle
// connections when the attack is over.
type client struct {
	http      *http.Client
	closeIdle func()
	// retries returns the requests sent twice (nil: not counted; net/http
	// retries a request on a reused connection closed while idle by its
	// own rules, without telling).
	retries func() int64
}

// newClient builds the HTTP client of an attack. Both transports keep
// connections alive, use at most maxConns connections to the target, speak
// HTTP/1.1 only, do not follow redirects (a redirect is the answer), and count
// requests in flight in fl: from RoundTrip to the response body's Close
// (vegeta closes it before handing the result over) or an error.
func newClient(kind string, base *url.URL, maxConns int, timeout time.Duration, fl *flight) (*client, error) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	switch kind {
	case TransportNetHTTP:
		// vegeta's default transport (NewAttacker), bounded, except: no proxy
		// (a benchmark must not go through one) and no gzip negotiation.
		dialer := &net.Dialer{KeepAlive: 30 * time.Second}
		tr := &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{},
			MaxIdleConnsPerHost: maxConns,
			MaxConnsPerHost:     maxConns,
			DisableCompression:  true,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		}
		rt := &countingTransport{inner: tr, fl: fl}
		return &client{http: &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: noRedirect}, closeIdle: tr.CloseIdleConnections}, nil
	case TransportFastHTTP:
		if base.Scheme != "http" {
			return nil, fmt.Errorf("loadgen: transport %q speaks plain http only, got %q (use %q)", kind, base.Scheme, TransportNetHTTP)
		}
		rt := newFastTransport(base, maxConns, timeout, fl)
		// No http.Client.Timeout: it would arm a timer and a context per
		// request; the RoundTripper enforces the timeout with fasthttp's
		// deadlines instead.
		return &client{http: &http.Client{Transport: rt, CheckRedirect: noRedirect}, closeIdle: rt.hc.CloseIdleConnections, retries: rt.retries.Load}, nil
	}
	return nil, fmt.Errorf("loadgen: unknown transport %q: want %q or %q", kind, TransportFastHTTP, TransportNetHTTP)
}

// fastTransport is an http.RoundTripper over one fasthttp.HostClient. It
// exists to run vegeta's attacker with less client overhead per request than
// net/http's transport. It only carries what vegeta uses: the status, the
// body, and the headers of redirects.
type fastTransport struct {
	hc      *fasthttp.HostClient
	timeout time.Duration
	fl      *flight
	// lengthHeader makes every response carry its body length as a
	// Content-Length header, for the raw output's BytesIn (vegeta only
	// counts the bytes it keeps, none with MaxBody 0). Off, only redirects
	// carry headers: a map per response costs an allocation.
	lengthHeader bool
	conns        *connTracker
	// retries counts requests sent a second time because a kept-alive
	// connection turned out to be closed (see RoundTrip).
	retries atomic.Int64
}

var _ http.RoundTripper = (*fastTransport)(nil)

func newFastTransport(base *url.URL, maxConns int, timeout time.Duration, fl *flight) *fastTransport {
	addr := base.Host
	if base.Port() == "" {
		addr = net.JoinHostPort(base.Hostname(), "80")
	}
	conns := &connTracker{stale: make(map[string]bool)}
	return &fastTransport{
		hc: &fasthttp.HostClient{
			Addr:     addr,
			Name:     "concbench-loadgen",
			MaxConns: maxConns,
			// Wait for a free connection (up to the request's timeout) instead
			// of failing at once with ErrNoFreeConns.
			MaxConnWaitTimeout: timeout,
			// fasthttp itself never retries: it would retry idempotent
			// requests on any error, and cannot tell a fresh connection
			// from a reused one. RoundTrip retries what may be retried.
			MaxIdemponentCallAttempts: 1,
			RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
			MaxIdleConnDuration:       90 * time.Second,
			DialTimeout:               conns.dial,
		},
		timeout: timeout,
		fl:      fl,
		conns:   conns,
	}
}

// connTracker dials the fast transport's connections and remembers which
// ones were closed by the server while idle: the connection had answered a
// request before, and the next one read end-of-file before any byte. Only
// such a request may be sent again (what net/http's transport retries too):
// a server that closes a fresh connection, or resets one, must show as an
// error, not be hidden by a second attempt that also doubles its work.
type connTracker struct {
	dials atomic.Int64
	mu    sync.Mutex      // guards stale
	stale map[string]bool // local addresses of connections closed while idle
}

func (t *connTracker) dial(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	t.dials.Add(1)
	key := c.LocalAddr().String()
	t.mu.Lock()
	delete(t.stale, key) // a local port used again
	t.mu.Unlock()
	return &trackedConn{Conn: c, t: t, key: key}, nil
}

// takeStale reports whether the connection of local address addr was closed
// while idle, and forgets it.
func (t *connTracker) takeStale(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := addr.String()
	s := t.stale[key]
	delete(t.stale, key)
	return s
}

// trackedConn notes whether it ever read a byte (answered a request) and
// whether it then read end-of-file with nothing more: closed while idle.
// fasthttp reads a connection from one request at a time.
type trackedConn struct {
	net.Conn
	t        *connTracker
	key      string
	answered atomic.Bool
	stale    atomic.Bool
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	switch {
	case n > 0:
		c.answered.Store(true)
	case errors.Is(err, io.EOF) && c.answered.Load():
		c.stale.Store(true)
	}
	return n, err
}

func (c *trackedConn) Close() error {
	if c.stale.Load() {
		c.t.mu.Lock()
		c.t.stale[c.key] = true
		c.t.mu.Unlock()
	}
	return c.Conn.Close()
}

// RoundTrip implements http.RoundTripper. Safe for concurrent use.
func (t *fastTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.fl.inc()
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	req.Header.SetHost(host)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			fasthttp.ReleaseRequest(req)
			t.fl.dec()
			return nil, err
		}
		req.SetBodyRaw(b) // b outlives req: SetBodyRaw does not copy
	}
	timeout := t.timeout
	if dl, ok := r.Context().Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	resp := fasthttp.AcquireResponse()
	start := time.Now()
	err := t.hc.DoTimeout(req, resp, timeout)
	if err != nil && errors.Is(err, fasthttp.ErrConnectionClosed) && t.conns.takeStale(resp.LocalAddr()) {
		// The server had closed this kept-alive connection while it was
		// idle: the request never reached it. Send it once more.
		if left := timeout - time.Since(start); left > 0 {
			t.retries.Add(1)
			resp.Reset()
			err = t.hc.DoTimeout(req, resp, left)
		}
	}
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		t.fl.dec()
		return nil, err
	}
	code := resp.StatusCode()
	hr := &http.Response{
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		ContentLength: int64(len(resp.Body())),
		Request:       r,
	}
	switch {
	case code == http.StatusOK:
		hr.Status = "200 OK"
	default:
		// vegeta reports a failed status by its text, as net/http spells it.
		hr.Status = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	if code >= 300 && code < 400 {
		hr.Header = http.Header{}
		for k, v := range resp.Header.All() {
			hr.Header.Add(string(k), string(v))
		}
	}
	if t.lengthHeader {
		if hr.Header == nil {
			hr.Header = http.Header{}
		}
		hr.Header.Set("Content-Length", strconv.Itoa(len(resp.Body())))
	}
	hr.Body = &fastBody{resp: resp, fl: t.fl}
	return hr, nil
}

// fastBody reads a fasthttp response body and returns the response to its
// pool on Close, which also ends the request's flight. The body bytes are
// only valid until Close.
type fastBody struct {
	resp *fasthttp.Response
	fl   *flight
	off  int
	once sync.Once
}

func (b *fastBody) Read(p []byte) (int, error) {
	if b.resp == nil {
		return 0, io.ErrClosedPipe
	}
	body := b.resp.Body()
	if b.off >= len(body) {
		return 0, io.EOF
	}
	n := copy(p, body[b.off:])
	b.off += n
	return n, nil
}

// WriteTo lets io.Copy (vegeta drains bodies into io.Discard) skip a buffer.
func (b *fastBody) WriteTo(w io.Writer) (int64, error) {
	if b.resp == nil {
		return 0, io.ErrClosedPipe
	}
	body := b.resp.Body()[b.off:]
	n, err := w.Write(body)
	b.off += n
	return int64(n), err
}

func (b *fastBody) Close() error {
	b.once.Do(func() {
		fasthttp.ReleaseResponse(b.resp)
		b.resp = nil
		b.fl.dec()
	})
	return nil
}

// countingTransport counts requests in flight around another RoundTripper.
type countingTransport struct {
	inner http.RoundTripper
	fl    *flight
}

var _ http.RoundTripper = (*countingTransport)(nil)

// RoundTrip implements http.RoundTripper. Safe for concurrent use.
func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.fl.inc()
	resp, err := t.inner.RoundTrip(r)
	if err != nil {
		t.fl.dec()
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, fl: t.fl}
	return resp, nil
}

// countedBody ends a request's flight when its body is closed.
type countedBody struct {
	io.ReadCloser
	fl   *flight
	once sync.Once
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.fl.dec)
	return err
}

// newAttacker returns vegeta's attacker over c. Workers are started up front
// and capped at maxWorkers (see Config.MaxWorkers); response bodies are
// drained but not kept (MaxBody 0).
func newAttacker(c *client, maxWorkers int) *vegeta.Attacker {
	return vegeta.NewAttacker(
		vegeta.Client(c.http),
		vegeta.Workers(uint64(maxWorkers)),
		vegeta.MaxWorkers(uint64(maxWorkers)),
		vegeta.MaxBody(0),
	)
}
