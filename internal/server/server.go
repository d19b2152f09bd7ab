// Package server is the skeleton the three long-running binaries share
// (mcp-webhook, mcp-gateway, mcp-transport serve): the logger, the signal
// context, the Kubernetes REST config, health and readiness endpoints, and
// serving HTTP until a signal with a graceful shutdown.
//
// Routing uses the standard library's ServeMux patterns ("POST /mutate",
// "/mcp/{namespace}/{server}") everywhere: method and path-wildcard matching
// without a dependency, the same in every binary.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/logging"
)

// Main runs a binary's run function with a JSON logger at logLevel and a
// context that ends on SIGTERM or SIGINT, and exits: 0, 1 when run fails,
// 2 for a bad log level.
func Main(name, logLevel string, run func(ctx context.Context, log *slog.Logger) error) {
	log, err := logging.New(os.Stderr, logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: bad --log-level: %v\n", name, err)
		os.Exit(2)
	}
	os.Exit(Run(name, log, run))
}

// Run calls run with a context that ends on SIGTERM or SIGINT and returns
// the exit code: 0, or 1 with the error logged.
func Run(name string, log *slog.Logger, run func(ctx context.Context, log *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error(name+" failed", "error", err.Error())
		return 1
	}
	return 0
}

// RESTConfig is the kubeconfig at path, or the in-cluster config when path
// is empty (clientcmd's rules).
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (use --kubeconfig outside a cluster): %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// AddProbes registers GET /healthz (always ok while the process serves) and
// GET /readyz (ready's error, if any, is a 503 with its message).
func AddProbes(mux *http.ServeMux, ready func() error) {
	mux.HandleFunc("GET "+api.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET "+api.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// NewHTTPServer returns a server with the timeouts every binary wants (the
// header read bound; streams need no write timeout) logging to log.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Listener is one server and where it serves; TLS serves with the server's
// TLSConfig.
type Listener struct {
	Server   *http.Server
	Listener net.Listener
	TLS      bool
}

// Serve serves every listener until ctx ends or one fails, then shuts all
// down: in-flight requests get grace to finish, then connections are closed.
// A failure to serve is returned; a shutdown cut short by grace is not.
func Serve(ctx context.Context, log *slog.Logger, grace time.Duration, listeners ...Listener) error {
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			var err error
			if l.TLS {
				err = l.Server.ServeTLS(l.Listener, "", "")
			} else {
				err = l.Server.Serve(l.Listener)
			}
			errc <- err
		}()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
		log.Info("shutting down", "grace", grace.String())
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, l := range listeners {
		if err := l.Server.Shutdown(sctx); err != nil {
			log.Warn("grace period over; closing remaining connections", "error", err.Error())
			_ = l.Server.Close()
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// Listen opens a TCP listener, wrapping the error with what it is for.
func Listen(what, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for %s on %s: %w", what, addr, err)
	}
	return l, nil
}
