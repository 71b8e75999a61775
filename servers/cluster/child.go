package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/concbench/concbench/launch"
	"github.com/concbench/concbench/servers"
	"github.com/concbench/concbench/servers/eventloop"
	"github.com/concbench/concbench/stats"
)

// IsChild reports whether this process was started as a cluster child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// ChildMain runs this process as cluster child until ctx is done: an eventloop
// server whose /stats asks the supervisor for the cluster's figures, plus this
// child's own /stats and pprof on its Unix socket. With the rr balance the
// loop serves the connections the supervisor hands over on descriptor
// linkFD (it listens only on a private port nobody is told of); with
// reuseport it listens on the shared port.
func ChildMain(ctx context.Context) error {
	raw := os.Getenv(ChildEnv)
	if raw == "" {
		return errNotChild
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		return fmt.Errorf("cluster child: bad %s: %w", ChildEnv, err)
	}
	askSupervisor := func() (stats.Snapshot, error) {
		return fetchStats(context.Background(), cc.Supervisor)
	}
	addr := cc.Addr
	var link *net.UnixConn
	if cc.Balance == launch.BalanceRR {
		f := os.NewFile(linkFD, "cluster-link")
		fc, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("cluster child %d: link: %w", cc.Index, err)
		}
		var ok bool
		if link, ok = fc.(*net.UnixConn); !ok {
			_ = fc.Close()
			return fmt.Errorf("cluster child %d: link is a %T, not a Unix socket", cc.Index, fc)
		}
		defer link.Close()
		// gnet needs a listener; this one is never announced. With
		// SO_REUSEPORT the loop accepts on it itself rather than on a
		// second, acceptor thread.
		addr = "127.0.0.1:0"
	}
	srv, err := eventloop.NewWithOptions(servers.Config{Settings: launch.Settings{Addr: addr, Grace: cc.Grace,
		Timeouts: launch.Timeouts{HeadersTimeout: cc.HeadersTimeout, RequestTimeout: cc.RequestTimeout, KeepAliveTimeout: cc.KeepAliveTimeout}}},
		eventloop.WithReusePort(true), eventloop.WithStatsFunc(askSupervisor))
	if err != nil {
		return fmt.Errorf("cluster child %d: %w", cc.Index, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var side *http.Server
	sideErr := make(chan error, 1)
	ready := func(net.Addr) {
		// The side socket comes up only once the loop listens, so the
		// supervisor's readiness check means "serving".
		ln, err := net.Listen("unix", cc.Socket)
		if err != nil {
			sideErr <- err
			return
		}
		mux := servers.PprofMux()
		mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(srv.Snapshot())
		})
		side = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := side.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				sideErr <- err
			}
		}()
		if link != nil {
			// Connections stop coming when the child drains (ctx) or the
			// supervisor is gone; a broken link is only logged: the loop
			// keeps serving what it has.
			go func() {
				if err := takeConns(ctx, link, srv, log); err != nil {
					log.Error("cluster child: link to the supervisor broke", "child", cc.Index, "err", err)
				}
			}()
		}
	}
	err = srv.Serve(ctx, ready)
	if side != nil {
		_ = side.Close()
	}
	select {
	case serr := <-sideErr:
		return errors.Join(err, fmt.Errorf("cluster child %d: side socket: %w", cc.Index, serr))
	default:
	}
	return err
}
