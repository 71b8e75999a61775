package servers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/concbench/concbench/launch"
)

// PprofMux returns a mux with net/http/pprof's handlers, not registered on
// http.DefaultServeMux so that nothing else is exposed by accident.
func PprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ServePprof serves h (PprofMux when nil) on addr until ctx is done. It returns
// once listening, with the bound address; serving goes on in the background.
func ServePprof(ctx context.Context, addr string, h http.Handler) (net.Addr, error) {
	if err := launch.CheckLoopback(addr); err != nil {
		return nil, err
	}
	if h == nil {
		h = PprofMux()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close() // profiles in progress are cut off: the server is going away
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return ln.Addr(), nil
}
