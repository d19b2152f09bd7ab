package server

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"net/http/pprof"
)

// PprofFlag registers --pprof on fs, the same flag in every binary: the
// address of the Go profiler, off (empty) by default. Profiles name
// functions and show memory, so it belongs on loopback (kubectl
// port-forward), never on a Service.
func PprofFlag(fs *flag.FlagSet) *string {
	return fs.String("pprof", "", "address of the Go profiler (net/http/pprof under /debug/pprof/), e.g. 127.0.0.1:6060; empty: off. Keep it on loopback")
}

// Pprof serves the profiler on addr until ctx ends; "" serves nothing.
// It has a mux and a server of its own: nothing of the profiler is
// reachable through the binary's other ports.
func Pprof(ctx context.Context, addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	l, err := Listen("the profiler", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := NewHTTPServer(mux, log)
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("profiler listening", "addr", l.Addr().String())
	return nil
}
