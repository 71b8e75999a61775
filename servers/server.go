// Package servers holds what every concurrency model shares: the contract a model
// implements, its configuration, the /stats figures and the pprof endpoint. The
// models themselves live in sub-packages, one each.
package servers

import (
	"context"
	"log/slog"
	"net"

	"github.com/concbench/concbench/launch"
)

// Server is one concurrency model serving the workloads route table.
type Server interface {
	// Serve listens on the configured address and serves until ctx is cancelled;
	// then it stops accepting, lets in-flight requests finish for up to the grace
	// period, and returns. ready, if not nil, is called once with the bound address
	// when the server accepts connections. Serve returns a non-nil error only when
	// it could not serve (e.g. the address is taken), not for a clean shutdown.
	Serve(ctx context.Context, ready func(net.Addr)) error
}

// Config configures a model: the settings it is started with (launch.Settings,
// whose zero fields take the defaults documented there), and how it reports.
type Config struct {
	launch.Settings

	// Log receives the server's own log lines (default: discard).
	Log *slog.Logger
	// PprofBound, when set, is called with the address net/http/pprof listens
	// on, before the server calls its ready function (see PprofServing).
	PprofBound func(net.Addr)
}

// WithDefaults returns c with every zero field set to its default, and checks
// ranges (launch.Settings.WithDefaults).
func (c Config) WithDefaults() (Config, error) {
	s, err := c.Settings.WithDefaults()
	c.Settings = s
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, err
}

// PprofServing tells that net/http/pprof listens on addr: it logs it (with
// attrs) and calls PprofBound. A model calls it once pprof is bound, before
// it calls its ready function.
func (c Config) PprofServing(addr net.Addr, attrs ...any) {
	c.Log.Info("pprof serving", append([]any{"addr", addr.String()}, attrs...)...)
	if c.PprofBound != nil {
		c.PprofBound(addr)
	}
}
