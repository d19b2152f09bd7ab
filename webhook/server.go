package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /mutate, /validate, /healthz, /readyz and /metrics.
type Server struct {
	mutator   Mutator
	validator Validator
	log       *slog.Logger
	metrics   *metrics
	router    *mux.Router
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
	r := mux.NewRouter()
	r.Handle("/mutate", s.serveReview("mutate", s.mutate)).Methods(http.MethodPost)
	r.Handle("/validate", s.serveReview("validate", s.validate)).Methods(http.MethodPost)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	r.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	r.Use(s.recoverPanics)
	s.router = r
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
	srv := &http.Server{
		Handler:           s.router,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
