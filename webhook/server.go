package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /mutate, /validate, /healthz, /readyz and /metrics.
type Server struct {
	mutator   Mutator
	validator Validator
	log       *slog.Logger
	metrics   *metrics
	router    http.Handler
	// ready reports whether the server can answer admissions (a serving
	// certificate is loaded).
	ready func() error
}

// Options configure a Server.
type Options struct {
	Mutator   Mutator
	Validator Validator
	Logger    *slog.Logger
	// Registry receives the metrics; a new one when nil.
	Registry *prometheus.Registry
	// Ready, when set, gates /readyz.
	Ready func() error
}

// New builds the handler tree.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Ready == nil {
		o.Ready = func() error { return nil }
	}
	s := &Server{mutator: o.Mutator, validator: o.Validator, log: o.Logger, metrics: newMetrics(o.Registry), ready: o.Ready}
	mux := http.NewServeMux()
	mux.Handle("POST "+api.MutatePath, s.serveReview("mutate", s.mutate))
	mux.Handle("POST "+api.ValidatePath, s.serveReview("validate", s.validate))
	server.AddProbes(mux, s.ready)
	mux.Handle("GET "+api.MetricsPath, promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	s.router = s.recoverPanics(mux)
	return s
}

// Handler returns the HTTP handler, for tests and custom listeners.
func (s *Server) Handler() http.Handler { return s.router }

// recoverPanics is the last line of defence for panics outside serveReview.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// ServeTLS serves on l with TLS until ctx ends, then shuts down gracefully:
// in-flight reviews finish within grace.
func (s *Server) ServeTLS(ctx context.Context, l net.Listener, tlsConfig *tls.Config, grace time.Duration) error {
	srv := server.NewHTTPServer(s.router, s.log)
	srv.TLSConfig = tlsConfig
	// Reviews are small and answered at once: bound the whole exchange.
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 5*time.Second, 15*time.Second, 15*time.Second, 90*time.Second
	return server.Serve(ctx, s.log, grace, server.Listener{Server: srv, Listener: l, TLS: true})
}
