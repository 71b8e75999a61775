package servers

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"testing"
)

// errListener fails Accept with its errors, in order, then accepts.
type errListener struct {
	net.Listener
	errs []error
}

func (l *errListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	c, _ := net.Pipe()
	return c, nil
}

func TestRetryListener(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	tests := []struct {
		name    string
		errs    []error
		wantErr error
	}{
		{"EMFILE, ENFILE retried", []error{emfile, syscall.ENFILE}, nil},
		{"closed listener returned", []error{net.ErrClosed}, net.ErrClosed},
		{"EMFILE then closed", []error{emfile, net.ErrClosed}, net.ErrClosed},
	}
	for _, tt := range tests {
		l := RetryListener(&errListener{errs: tt.errs}, slog.New(slog.DiscardHandler))
		c, err := l.Accept()
		if !errors.Is(err, tt.wantErr) || (err == nil) != (c != nil) {
			t.Errorf("%s: Accept() = %v, %v; want a conn and %v", tt.name, c, err, tt.wantErr)
		}
		if c != nil {
			c.Close()
		}
	}
}
