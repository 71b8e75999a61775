package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// server on the shared port (SO_REUSEPORT), whose /stats asks the supervisor for
// the cluster's figures, plus this child's own /stats and pprof on its Unix socket.
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
	srv, err := eventloop.NewWithOptions(servers.Config{Settings: launch.Settings{Addr: cc.Addr, Grace: cc.Grace,
		Timeouts: launch.Timeouts{HeadersTimeout: cc.HeadersTimeout, RequestTimeout: cc.RequestTimeout, KeepAliveTimeout: cc.KeepAliveTimeout}}},
		eventloop.WithReusePort(true), eventloop.WithStatsFunc(askSupervisor))
	if err != nil {
		return fmt.Errorf("cluster child %d: %w", cc.Index, err)
	}
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
