package launch

import (
	"flag"
	"fmt"
	"time"
)

// Timeouts bound how long a server waits for a client (issue 12): Node's
// three, with Node's defaults. Zero fields take the defaults. Each is a
// serve flag of its name, kebab-cased (--headers-timeout, --request-timeout,
// --keepalive-timeout).
type Timeouts struct {
	// HeadersTimeout bounds the wait for a request's complete header block,
	// counted from its first byte (for a connection's first request, from
	// the accept): Node's server.headersTimeout. The client gets 408 when
	// part of a request arrived; otherwise the connection is closed.
	HeadersTimeout time.Duration
	// RequestTimeout bounds receiving a whole request, header and body:
	// Node's server.requestTimeout. The client gets 408.
	RequestTimeout time.Duration
	// KeepAliveTimeout bounds the wait for the next request on an idle
	// kept-alive connection, which is then closed: Node's
	// server.keepAliveTimeout.
	KeepAliveTimeout time.Duration
}

// Defaults and bounds of Timeouts.
const (
	DefaultHeadersTimeout   = 60 * time.Second
	DefaultRequestTimeout   = 300 * time.Second
	DefaultKeepAliveTimeout = 5 * time.Second
	// MaxTimeout bounds every timeout: a server that waits longer for a
	// client is a server that can be held open forever.
	MaxTimeout = time.Hour
)

// timeouts lists Timeouts' fields with their flags, usages and defaults.
var timeouts = []struct {
	flag, usage string
	def         time.Duration
	field       func(*Timeouts) *time.Duration
}{
	{"headers-timeout", "close a connection whose request header is not complete this long after its first byte (408)",
		DefaultHeadersTimeout, func(t *Timeouts) *time.Duration { return &t.HeadersTimeout }},
	{"request-timeout", "close a connection whose request (header and body) is not complete this long after its first byte (408)",
		DefaultRequestTimeout, func(t *Timeouts) *time.Duration { return &t.RequestTimeout }},
	{"keepalive-timeout", "close a kept-alive connection idle this long",
		DefaultKeepAliveTimeout, func(t *Timeouts) *time.Duration { return &t.KeepAliveTimeout }},
}

// withDefaults fills and checks t. Errors name the serve flag.
func (t *Timeouts) withDefaults() error {
	for _, d := range timeouts {
		p := d.field(t)
		if *p == 0 {
			*p = d.def
		}
		if *p < time.Millisecond || *p > MaxTimeout {
			return fmt.Errorf("%s: %s out of range [1ms, %s]", d.flag, *p, MaxTimeout)
		}
	}
	if t.HeadersTimeout > t.RequestTimeout { // Node refuses this too
		return fmt.Errorf("headers-timeout %s exceeds request-timeout %s", t.HeadersTimeout, t.RequestTimeout)
	}
	return nil
}

func registerTimeouts(fs *flag.FlagSet, t *Timeouts) {
	for _, d := range timeouts {
		fs.DurationVar(d.field(t), d.flag, d.def, d.usage)
	}
}

// appendTimeouts adds the non-zero timeouts to a command line.
func appendTimeouts(add func(flag, v string), t Timeouts) {
	for _, d := range timeouts {
		if v := *d.field(&t); v != 0 {
			add(d.flag, v.String())
		}
	}
}
