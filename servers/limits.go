package servers

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// RetryListener wraps ln so that Accept waits and retries when the process or
// the system is out of descriptors or socket memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM), backing off from 5 ms to 1 s, instead of failing: fasthttp ends
// its Serve on any accept error that is not a timeout, so a burst of
// connections past RLIMIT_NOFILE would stop the server for good. The pending
// connections wait in the kernel's backlog meanwhile, as they do in net/http,
// which retries the same way.
func RetryListener(ln net.Listener, log *slog.Logger) net.Listener {
	return &retryListener{Listener: ln, log: log}
}

type retryListener struct {
	net.Listener
	log *slog.Logger
}

// Accept implements net.Listener; like the wrapped Accept, it is safe for
// concurrent use.
func (l *retryListener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || !outOfResources(err) {
			return c, err
		}
		l.log.Warn("accept: out of resources; retrying", "err", err, "backoff", backoff)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func outOfResources(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// MaxBodyBytes is the largest request body every model accepts (413 beyond).
// No route reads a body; the loop models discard it as it arrives, so the
// limit only bounds how long a client can keep one request going.
const MaxBodyBytes = 1 << 20
